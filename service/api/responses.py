"""JSON responses through orjson (numpy arrays serialised natively, no per-element Python)."""

from __future__ import annotations

import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
JSON = b"application/json"


class BytesResponse(Response):
    """A response whose headers are already in wire form. Starlette's own constructor
    lower-cases and encodes every header of every response: a few microseconds that the
    prediction routes, which know their headers, need not pay."""

    def __init__(
        self, body: bytes, content_type: bytes, *headers: tuple[bytes, bytes], status: int = 200
    ) -> None:
        self.status_code = status
        self.background = None
        self.body = body
        self.raw_headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", content_type),
            *headers,
        ]


def json_response(content: object, status_code: int = 200) -> Response:
    return BytesResponse(orjson.dumps(content, option=_OPTIONS), JSON, status=status_code)
