"""JSON responses through orjson (numpy arrays serialised natively, no per-element Python)."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
JSON = b"application/json"


class BytesResponse(Response):
    """A response whose content type and extra headers are given in wire form: Starlette
    lower-cases, encodes and searches the headers it is given, which the prediction routes,
    which know theirs, need not pay for."""

    def __init__(
        self, body: bytes, content_type: bytes, *headers: tuple[bytes, bytes], status: int = 200
    ) -> None:
        self._wire_headers = [(b"content-type", content_type), *headers]
        super().__init__(body, status_code=status)

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        """Called by Response.__init__: the headers are already in wire form."""
        length = (b"content-length", str(len(self.body)).encode())
        self.raw_headers = [length, *self._wire_headers]


def json_response(content: object, status_code: int = 200) -> Response:
    return BytesResponse(orjson.dumps(content, option=_OPTIONS), JSON, status=status_code)
