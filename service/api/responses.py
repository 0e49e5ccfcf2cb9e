"""JSON responses through orjson (numpy arrays serialised natively, no per-element Python)."""

from __future__ import annotations

import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def json_response(content: object, status_code: int = 200) -> Response:
    return Response(
        orjson.dumps(content, option=_OPTIONS),
        status_code=status_code,
        media_type="application/json",
    )
