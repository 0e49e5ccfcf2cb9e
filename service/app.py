"""`create_app(settings)`: the HTTP transport alone, as an ASGI app whose lifespan starts and
stops its core. For ASGI servers (`uvicorn --factory service.app:create_app`) and for code
that drives the app in process; `python -m service` runs `server.Server`, which serves gRPC
beside HTTP over one core."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.types import ASGIApp

from service.api.http_app import create_http_app
from service.core import Core
from service.settings import Settings


def create_app(settings: Settings | None = None) -> ASGIApp:
    core = Core(settings or Settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with core.running():
            yield

    return create_http_app(core, lifespan)
