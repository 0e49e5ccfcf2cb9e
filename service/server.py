"""One server, two transports as equals: `Server` runs HTTP (uvicorn) and gRPC (grpcio) side
by side in one process, over one core (core.py), as MLServer's `MLServer` class does.

The order is the same for both: the core starts first (the models load, so the service is
ready when its ports open), then gRPC listens, then HTTP binds; on SIGINT or SIGTERM both
drain at once, each within the grace period, and the core stops last. uvicorn keeps the
signals and the event loop; the transports' start and stop ride on its `startup` and
`shutdown`, so a signal re-raised after the drain (uvicorn's way of ending with the status
the signal asks for) finds everything already stopped."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import uvicorn

from service.api.http_app import create_http_app
from service.api.uvicorn_config import uvicorn_options
from service.core import Core
from service.grpc.listener import GrpcServer
from service.settings import Settings

log = logging.getLogger("logitserve")


class StartupError(Exception):
    """A transport could not start (a port taken, say); the message says which, for people."""


class Server:
    def __init__(self, settings: Settings, **uvicorn_overrides: Any) -> None:
        """`uvicorn_overrides` replace uvicorn options (tests bind port 0 on loopback)."""
        self.settings = settings
        self.core = Core(settings)
        self.http_app = create_http_app(self.core)
        options = {**uvicorn_options(settings), "lifespan": "off", **uvicorn_overrides}
        self._transports = _Transports(uvicorn.Config(self.http_app, **options), self.core)

    @property
    def started(self) -> bool:
        return self._transports.started

    @property
    def http_port(self) -> int:
        """The port HTTP listens on, once started (useful when it was asked for port 0)."""
        return int(self._transports.servers[0].sockets[0].getsockname()[1])

    @property
    def grpc(self) -> GrpcServer | None:
        """The gRPC server, once started (None when `--grpc-port 0` turns it off)."""
        return self._transports.grpc

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until a signal says stop; on the given sockets (a worker's) or the port."""
        self._transports.run(sockets)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """The same, on the running event loop."""
        await self._transports.serve(sockets)

    def exit(self) -> None:
        """Stop as a signal would: drain both transports, then the core."""
        self._transports.should_exit = True


class _Transports(uvicorn.Server):
    """uvicorn's server, with the core and gRPC started before HTTP binds and stopped beside
    HTTP's drain."""

    def __init__(self, config: uvicorn.Config, core: Core) -> None:
        super().__init__(config)
        self._core = core
        self.grpc: GrpcServer | None = None  # made on the event loop it serves on

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        settings = self._core.settings
        await self._core.start()
        if settings.grpc_port:
            core = self._core
            self.grpc = GrpcServer(
                settings, core.dataplane, core.registry, core.inflight, core.metrics
            )
            try:
                await self.grpc.start(settings.grpc_port)
            except RuntimeError as exc:
                await self._core.stop()
                raise StartupError(
                    f"{exc}; choose another port with --grpc-port N (LOGITSERVE_GRPC_PORT), "
                    "or --grpc-port 0 to serve no gRPC"
                ) from None
        await super().startup(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        stops = [super().shutdown(sockets)]
        if self.grpc is not None:
            stops.append(self.grpc.stop(self._core.settings.graceful_shutdown_s))
        await asyncio.gather(*stops)
        await self._core.stop()
        log.info("shutdown complete", extra={"grpc": self.grpc is not None})
