"""One server, two transports as equals: `Server` runs HTTP (uvicorn) and gRPC (grpcio) side
by side in one process, over one core (core.py), as MLServer's `MLServer` class does.

The order is the same for both: the core starts first (the models load, so the service is
ready when its ports open), then gRPC listens, then HTTP binds; on SIGINT or SIGTERM both
drain at once (HTTP first keeps its port and connections open for --drain-s, answering each
request with Connection: close), each within the grace period, and the core stops last.
uvicorn keeps the signals and the event loop; the transports' start and stop ride on its
`startup` and `shutdown`, so a signal re-raised after the drain (uvicorn's way of ending
with the status the signal asks for) finds everything already stopped."""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
from typing import Any

import uvicorn

from service.api.connections import BoundedHttpToolsProtocol, ConnectionLimits
from service.api.http_app import create_http_app
from service.api.uvicorn_config import connection_limits, uvicorn_options
from service.core import Core
from service.grpc.listener import GrpcServer
from service.settings import Settings

log = logging.getLogger("logitserve")


# The drain ends early once no connection has been open for this long.
QUIET_S = 0.25
# Descriptors besides connections: model files, logs, the event loops' own, ONNX Runtime's.
RESERVED_DESCRIPTORS = 256


def reserve_descriptors(settings: Settings) -> int:
    """Raise this process's limit on open files to what both transports' connection limits
    and the rest need, as far as the hard limit allows (shells often start at 1,024, fewer
    than --max-connections alone); the soft limit now. Short of it, a warning says so: then
    connections one transport holds can starve the other of descriptors."""
    need = settings.max_connections + RESERVED_DESCRIPTORS
    if settings.grpc_port:
        need += settings.grpc_max_connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft != resource.RLIM_INFINITY and soft < need:
        log.warning(
            "too few file descriptors for the connection limits: lower --max-connections "
            "or --grpc-max-connections, or raise the hard limit (ulimit -Hn)",
            extra={"limit": soft, "needed": need},
        )
    return int(soft)


class StartupError(Exception):
    """A transport could not start (a port taken, say); the message says which, for people."""


class Server:
    def __init__(self, settings: Settings, **uvicorn_overrides: Any) -> None:
        """`uvicorn_overrides` replace uvicorn options (tests bind port 0 on loopback)."""
        self.settings = settings
        self.core = Core(settings)
        self.http_app = create_http_app(self.core)
        limits = connection_limits(settings)
        options = {**uvicorn_options(settings, limits), "lifespan": "off", **uvicorn_overrides}
        config = uvicorn.Config(self.http_app, **options)
        self._transports = _Transports(config, self.core, limits)

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

    def __init__(self, config: uvicorn.Config, core: Core, limits: ConnectionLimits) -> None:
        super().__init__(config)
        self._core = core
        self._limits = limits
        self.grpc: GrpcServer | None = None  # made on the event loop it serves on

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        settings = self._core.settings
        reserve_descriptors(settings)
        await self._core.start()
        if settings.grpc_port:
            core = self._core
            self.grpc = GrpcServer(
                settings,
                core.dataplane,
                core.registry,
                core.inflight,
                core.metrics,
                core.credentials,
                core.access,
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
        stops = [self._drain_then_stop_http(sockets)]
        if self.grpc is not None:
            stops.append(self.grpc.stop(self._core.settings.graceful_shutdown_s))
        await asyncio.gather(*stops)
        await self._core.stop()
        log.info("shutdown complete", extra={"grpc": self.grpc is not None})

    async def _drain_then_stop_http(self, sockets: list[socket.socket] | None) -> None:
        """uvicorn's shutdown closes the port and every idle keep-alive connection at once:
        a request a client sends on one just then meets a closed connection. First, for
        --drain-s, the port and connections stay open and every request is answered with
        Connection: close (503 on connections opened meanwhile); then uvicorn's shutdown."""
        self._limits.draining = True
        for connection in list(self.server_state.connections):
            if isinstance(connection, BoundedHttpToolsProtocol):
                connection.drain()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._core.settings.drain_s
        log.info("draining", extra={"connections": len(self.server_state.connections)})
        # Over at once without connections, or once none has been open for a moment (a
        # client told to close opens a new one at once).
        last_seen = loop.time() if self.server_state.connections else -QUIET_S
        while (now := loop.time()) < deadline and now - last_seen < QUIET_S:
            await asyncio.sleep(0.05)
            if self.server_state.connections:
                last_seen = loop.time()
        await super().shutdown(sockets)
