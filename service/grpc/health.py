"""The standard gRPC health service (`grpc.health.v1.Health/Check`, from Triton's copy of
health.proto), so that Kubernetes' gRPC probes and grpc_health_probe work.

The service name says what is asked: "" (the server as a whole) is SERVING while the
process serves, a liveness probe; "inference.GRPCInferenceService" is SERVING only when every
model is ready, a readiness probe (as `/v2/health/ready`). Any other name is NOT_FOUND, as the
standard says. Watch, which Triton's copy leaves out, is not served.
"""

from __future__ import annotations

from typing import Any

import grpc

from service.edge.request_context import RequestContext
from service.errors import NotFound
from service.grpc.gate import Gate, Rpc
from service.grpc.generated import health_pb2 as pb
from service.grpc.inference import SERVICE
from service.serving.registry import Registry

HEALTH_SERVICE = "grpc.health.v1.Health"
CHECK = Rpc(f"/{HEALTH_SERVICE}/Check", "grpc_health", pb.HealthCheckRequest, counted=False)

Status = pb.HealthCheckResponse.ServingStatus


class Health:
    def __init__(self, gate: Gate, registry: Registry) -> None:
        self._gate = gate
        self._registry = registry

    async def Check(self, request: bytes, context: grpc.aio.ServicerContext) -> Any:
        async def check(ctx: RequestContext, message: pb.HealthCheckRequest) -> Any:
            if message.service == "":
                return pb.HealthCheckResponse(status=pb.HealthCheckResponse.SERVING)
            if message.service == SERVICE:
                ready = self._registry.ready
                status = (
                    pb.HealthCheckResponse.SERVING if ready else pb.HealthCheckResponse.NOT_SERVING
                )
                return pb.HealthCheckResponse(status=status)
            raise NotFound(f"unknown service '{message.service[:100]}'")

        return await self._gate.call(CHECK, request, context, check)
