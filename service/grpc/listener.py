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
from typing import Any

import grpc

from service.edge.access import AccessRecord
from service.edge.credentials import Credentials
from service.edge.inflight import InFlight
from service.grpc.gate import Gate
from service.grpc.generated import grpc_service_pb2, health_pb2
from service.grpc.health import HEALTH_SERVICE, Health
from service.grpc.inference import METHODS, NOT_OFFERED, RPCS, SERVICE, InferenceService
from service.handlers.dataplane import DataPlane
from service.metrics.prometheus import Metrics
from service.serving.registry import Registry
from service.settings import Settings

log = logging.getLogger("logitserve.grpc")


def options(settings: Settings) -> list[tuple[str, int]]:
    ms = 1000
    return [
        # The limit on a message as it travels; inflated, it is held to the same limit by
        # wire.py, in a thread: grpcio would inflate on the event loop.
        ("grpc.max_receive_message_length", settings.max_body_bytes),
        ("grpc.per_message_decompression", 0),
        ("grpc.max_send_message_length", -1),
        # gRPC refuses metadata past the soft limit at random, and always past the absolute.
        ("grpc.max_metadata_size", settings.max_header_bytes),
        ("grpc.absolute_max_metadata_size", settings.max_header_bytes),
        ("grpc.so_reuseport", 1 if settings.workers > 1 else 0),
        # Connections: a number of their own (HTTP's are --max-connections), a deadline for
        # the HTTP/2 preface and settings as HTTP has for headers, idle and age limits.
        ("grpc.max_allowed_incoming_connections", settings.grpc_max_connections),
        ("grpc.server_handshake_timeout_ms", int(settings.header_timeout_s * ms)),
        ("grpc.http2.settings_timeout", int(settings.header_timeout_s * ms)),
        ("grpc.max_connection_idle_ms", int(settings.grpc_idle_s * ms)),
        ("grpc.max_connection_age_ms", int(settings.grpc_max_age_s * ms)),
        ("grpc.max_connection_age_grace_ms", int(settings.graceful_shutdown_s * ms)),
        # Streams: advertised in SETTINGS, and a stream reset by the client counts until its
        # call has finished here, so opening and resetting streams in a loop ("rapid reset")
        # never runs more calls at once than the limit.
        ("grpc.max_concurrent_streams", settings.grpc_max_streams),
        ("grpc.http.overload_protection", 1),
        # Keepalive: the server asks a silent peer every minute whether it is still there
        # (a vanished client's connection goes within 80 s, not hours), and a client that
        # pings more than every 10 s without calls is sent away after two warnings.
        ("grpc.keepalive_time_ms", 60 * ms),
        ("grpc.keepalive_timeout_ms", 20 * ms),
        ("grpc.http2.min_ping_interval_without_data_ms", 10 * ms),
        ("grpc.http2.max_ping_strikes", 2),
    ]


class GrpcServer:
    def __init__(
        self,
        settings: Settings,
        dataplane: DataPlane,
        registry: Registry,
        inflight: InFlight,
        metrics: Metrics,
        credentials: Credentials,
        access: AccessRecord,
    ) -> None:
        self._settings = settings
        gate = Gate(settings, inflight, metrics, credentials, access)
        self._server = grpc.aio.server(options=options(settings))
        inference = InferenceService(gate, dataplane, registry, settings)
        _add(self._server, SERVICE, _inference_methods(inference))
        health = Health(gate, registry)
        check = _unary(health.Check, health_pb2, "HealthCheckResponse")
        _add(self._server, HEALTH_SERVICE, {"Check": check})
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


def _inference_methods(service: InferenceService) -> dict[str, grpc.RpcMethodHandler]:
    """Every call of the protocol: those served take their request as bytes (the gate parses
    it, once it has let the call through); the others are answered UNIMPLEMENTED in words."""
    handlers = {}
    for name in RPCS:
        response = METHODS[name].output_type.name
        handlers[name] = _unary(getattr(service, name), grpc_service_pb2, response)
    for name, message in NOT_OFFERED.items():
        handlers[name] = _not_offered(METHODS[name].server_streaming, message)
    return handlers


def _unary(behaviour: Any, module: Any, response: str) -> grpc.RpcMethodHandler:
    serializer = getattr(module, response).SerializeToString
    return grpc.unary_unary_rpc_method_handler(behaviour, response_serializer=serializer)


def _not_offered(streaming: bool, message: str) -> grpc.RpcMethodHandler:
    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, message)

    if streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    return grpc.unary_unary_rpc_method_handler(refuse)


def _add(server: grpc.aio.Server, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_registered_method_handlers(service, handlers)


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
