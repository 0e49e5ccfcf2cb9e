"""`Accept-Encoding: gzip` (or deflate) honoured for large inference responses, as Triton
does: a client that asks gets a compressed body with `Content-Encoding`, one that does not
gets the body as is. Bodies under 64 KiB go out as they are, whatever was asked: on the
networks this serves, compressing them costs more time than sending them (httpx, for one,
asks for gzip on every request).

Level 1: inference responses are mostly numbers, which the fastest level compresses nearly
as well as the default, at a fraction of the time.
"""

from __future__ import annotations

import zlib

from starlette.responses import Response

from service.api.numbers import ascii_number

MIN_BYTES = 64 * 1024
LEVEL = 1
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def accepted(accept_encoding: str | None) -> str | None:
    """The encoding to answer with: gzip, else deflate, if the client accepts one."""
    if not accept_encoding:
        return None
    allowed = set()
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        q = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
        weight = ascii_number(q)  # ASCII only, as every number a client sends
        if weight is not None and weight > 0:
            allowed.add(coding.strip())
    for coding in ("gzip", "deflate"):
        if coding in allowed:
            return coding
    return None


def compress(response: Response, accept_encoding: str | None) -> Response:
    """`response` with its body compressed when it is large and the client accepts it."""
    body = response.body
    if accept_encoding is None or len(body) < MIN_BYTES:
        return response
    coding = accepted(accept_encoding)
    if coding is None:
        return response
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, _WBITS[coding])
    packed = packer.compress(bytes(body)) + packer.flush()
    response.body = packed
    response.raw_headers = [
        *[(k, v) for k, v in response.raw_headers if k != b"content-length"],
        (b"content-length", str(len(packed)).encode()),
        (b"content-encoding", coding.encode()),
        (b"vary", b"accept-encoding"),
    ]
    return response
