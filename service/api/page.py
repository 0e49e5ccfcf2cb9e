"""`GET /`: the page people can try (draw a digit, drop a photo, fill a form). One static file
that calls the v1 API from the browser, like any other client, and fetches nothing else."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from starlette.responses import Response

router = APIRouter()


@cache
def _page() -> bytes:
    return files("service").joinpath("static/index.html").read_bytes()


@router.get("/", include_in_schema=False)
def index() -> Response:
    return Response(
        _page(),
        media_type="text/html; charset=utf-8",
        # The page calls its own server's API only; say so to the browser as well.
        headers={
            "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            "Cache-Control": "no-cache",
        },
    )
