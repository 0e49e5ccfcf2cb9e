"""How uvicorn runs the service: the same options for `python -m service` and the tests."""

from __future__ import annotations

from typing import Any

from service.api.connections import ConnectionLimits
from service.api.receiving import Receiving
from service.settings import Settings


def connection_limits(settings: Settings) -> ConnectionLimits:
    return ConnectionLimits(
        max_header_bytes=settings.max_header_bytes,
        header_timeout_s=settings.header_timeout_s,
        body_timeout_s=settings.body_timeout_s,
        max_body_bytes=settings.max_body_bytes,
        max_connections=settings.max_connections,
        max_buffered_bytes=settings.max_buffered_bytes,
        receiving=Receiving(
            settings.max_receiving,
            settings.max_receiving_per_client,
            settings.min_body_rate,
            settings.body_rate_grace_s,
        ),
    )


def uvicorn_options(settings: Settings, limits: ConnectionLimits | None = None) -> dict[str, Any]:
    """uvicorn.run/Config keyword arguments, but the app and the event loop."""
    return dict(
        host=settings.host,
        port=settings.port,
        http=(limits or connection_limits(settings)).protocol(),
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=settings.graceful_shutdown_s,
    )
