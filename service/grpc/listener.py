"""The gRPC server: grpcio's asyncio server on the app's event loop, in the same process as
HTTP, serving the inference service and the health service over the same data plane.

Started and stopped by the app's lifespan (app.py), on its own port. Its limits are the
HTTP side's where they mean the same: the largest message is the largest body, the largest
metadata the largest headers. With several workers, each binds the port with SO_REUSEPORT
and the kernel spreads connections among them, as uvicorn's workers share the HTTP port.
"""

from __future__ import annotations

import logging
import os
import socket

import grpc

from service.edge.inflight import InFlight
from service.grpc.gate import Gate
from service.grpc.generated.grpc_service_pb2_grpc import add_GRPCInferenceServiceServicer_to_server
from service.grpc.generated.health_pb2_grpc import add_HealthServicer_to_server
from service.grpc.health import Health
from service.grpc.inference import InferenceService
from service.handlers.dataplane import DataPlane
from service.metrics.prometheus import Metrics
from service.serving.registry import Registry
from service.settings import Settings

log = logging.getLogger("logitserve.grpc")


def options(settings: Settings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_body_bytes),
        ("grpc.max_send_message_length", -1),
        # gRPC refuses metadata past the soft limit at random, and always past the absolute.
        ("grpc.max_metadata_size", settings.max_header_bytes),
        ("grpc.absolute_max_metadata_size", settings.max_header_bytes),
        ("grpc.so_reuseport", 1 if settings.workers > 1 else 0),
    ]


class GrpcServer:
    def __init__(
        self,
        settings: Settings,
        dataplane: DataPlane,
        registry: Registry,
        inflight: InFlight,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        gate = Gate(settings, inflight, metrics)
        self._server = grpc.aio.server(options=options(settings))
        add_GRPCInferenceServiceServicer_to_server(
            InferenceService(gate, dataplane, registry, settings), self._server
        )
        add_HealthServicer_to_server(Health(gate, registry), self._server)
        self.port = 0

    async def start(self, port: int) -> int:
        """Listen on `port` (0: any free port, for tests); the port bound."""
        host = self._settings.host
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        # Tried first with a socket of our own: grpcio's failure is a C++ log line and a
        # message that cannot say which option chose the port.
        problem = _cannot_bind(host, port, reuse_port=self._settings.workers > 1)
        if problem is not None:
            raise RuntimeError(f"gRPC cannot listen on {address}: {problem}")
        try:
            self.port = self._server.add_insecure_port(address)
        except RuntimeError as exc:
            raise RuntimeError(f"gRPC cannot listen on {address}: {exc}") from None
        await self._server.start()
        log.info("serving gRPC", extra={"address": address, "port": self.port})
        return self.port

    async def stop(self, grace_s: float) -> None:
        await self._server.stop(grace_s)


def _cannot_bind(host: str, port: int, reuse_port: bool) -> str | None:
    """Why `port` cannot be bound on `host` (taken, not permitted), or None. Workers share
    the port with SO_REUSEPORT, as grpcio binds it for them."""
    if port == 0:
        return None
    try:
        probe = socket.create_server((host, port), reuse_port=reuse_port)
    except OSError as exc:
        return os.strerror(exc.errno).lower() if exc.errno else str(exc)
    probe.close()
    return None
