"""Reading request bodies within limits: 413 as soon as a body is known to be too large
(from Content-Length, or while streaming a chunked one), and compressed bodies inflated
only up to the same limit, so a small gzip bomb cannot fill the memory."""

from __future__ import annotations

import zlib

import orjson
from starlette.requests import Request

from service.api import numbers
from service.api.json_budget import JsonBudget
from service.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body larger than the limit of {limit} bytes")


async def read_body(request: Request, limit: int) -> bytes:
    headers = request.headers
    declared = headers.get("content-length")
    if declared is not None:
        size = numbers.ascii_integer(declared.strip())
        if size is None:
            raise InvalidInput("invalid Content-Length header")
        if size > limit:
            raise _too_large(limit)
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", "deflate"):
        raise UnsupportedMediaType("unsupported Content-Encoding: use gzip, deflate or none")

    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidInput("the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if encoding != "identity":
        body = _inflate(body, encoding, limit)
    return body


def parse_json(body: bytes, expected: str, budget: JsonBudget | None = None) -> object:
    """A JSON body, or InvalidInput that says what was expected. Large pixel arrays come
    back as numpy arrays (see numbers.py). With a budget, a body that could not be for the
    model is refused before it is parsed (json_budget.py)."""
    if not body.strip():
        raise InvalidInput(f"empty request body: send {expected}")
    if budget is not None:
        budget.check(body)
    try:
        return numbers.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {str(exc)[:120]}") from None


_GZIP_MAGIC = b"\x1f\x8b"


def _inflate(data: bytes, encoding: str, limit: int) -> bytes:
    # wbits: 16+15 reads a gzip wrapper, 15 a zlib one ("deflate" in HTTP means zlib).
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise InvalidInput(f"the body is not valid {encoding} data") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"request body inflates past the limit of {limit} bytes")
    if not inflater.eof:
        raise InvalidInput(f"the body is truncated {encoding} data")
    # zlib stops at the end of the first stream and leaves the rest aside: a second gzip
    # member (RFC 1952 allows them) or bytes after the end would be dropped without a word.
    rest = inflater.unused_data
    if rest[:2] == _GZIP_MAGIC and encoding == "gzip":
        raise InvalidInput(
            "the body holds more than one gzip member: compress the whole body as one"
        )
    if rest:
        raise InvalidInput(f"the body has {len(rest)} bytes after the end of its {encoding} data")
    return out
