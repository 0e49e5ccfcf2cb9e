"""`inference.GRPCInferenceService`: the Open Inference Protocol's calls, and Triton's model
configuration, statistics and repository calls, as tritonclient.grpc and KServe's
InferenceGRPCClient make them. Each handler is a few lines over the data plane and the
transport-free descriptions (metadata.py, model_config.py, model_control.py), as HTTP's are; the
gate (gate.py) does what every call needs. Streaming, shared memory, tracing and log
settings are not served (the generated base class answers UNIMPLEMENTED).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from service.edge.request_context import RequestContext
from service.errors import NotFound, NotReady
from service.grpc import codec
from service.grpc.gate import Gate, Rpc
from service.grpc.generated import grpc_service_pb2 as pb
from service.grpc.generated.grpc_service_pb2_grpc import GRPCInferenceServiceServicer
from service.handlers import metadata, model_control
from service.handlers.dataplane import DataPlane
from service.handlers.model_config import model_config
from service.serving.registry import Registry
from service.settings import Settings

SERVICE = "inference.GRPCInferenceService"


def _rpc(method: str, endpoint: str, **options: Any) -> Rpc:
    return Rpc(f"/{SERVICE}/{method}", endpoint, **options)


# Every call served, declared once: what it needs is read from here by the gate.
RPCS = {
    "ServerLive": _rpc("ServerLive", "grpc_health", counted=False),
    "ServerReady": _rpc("ServerReady", "grpc_health", counted=False),
    "ModelReady": _rpc("ModelReady", "grpc_metadata"),
    "ServerMetadata": _rpc("ServerMetadata", "grpc_metadata"),
    "ModelMetadata": _rpc("ModelMetadata", "grpc_metadata"),
    "ModelInfer": _rpc("ModelInfer", "grpc_infer", needs="api key"),
    "ModelConfig": _rpc("ModelConfig", "grpc_metadata"),
    "ModelStatistics": _rpc("ModelStatistics", "grpc_metadata"),
    "RepositoryIndex": _rpc("RepositoryIndex", "grpc_control", needs="control token"),
    "RepositoryModelLoad": _rpc("RepositoryModelLoad", "grpc_control", needs="control token"),
    "RepositoryModelUnload": _rpc("RepositoryModelUnload", "grpc_control", needs="control token"),
}

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


def _message(doc: object, message: Message) -> Any:
    return json_format.ParseDict(doc, message)


class InferenceService(GRPCInferenceServiceServicer):
    def __init__(
        self, gate: Gate, dataplane: DataPlane, registry: Registry, settings: Settings
    ) -> None:
        self._gate = gate
        self._dataplane = dataplane
        self._registry = registry
        self._settings = settings

    # -- health and metadata ---------------------------------------------------------------

    async def ServerLive(self, request: pb.ServerLiveRequest, context: Context) -> Any:
        async def live(ctx: RequestContext) -> pb.ServerLiveResponse:
            return pb.ServerLiveResponse(live=True)

        return await self._gate.call(RPCS["ServerLive"], context, live)

    async def ServerReady(self, request: pb.ServerReadyRequest, context: Context) -> Any:
        async def ready(ctx: RequestContext) -> pb.ServerReadyResponse:
            return pb.ServerReadyResponse(ready=self._registry.ready)

        return await self._gate.call(RPCS["ServerReady"], context, ready)

    async def ModelReady(self, request: pb.ModelReadyRequest, context: Context) -> Any:
        async def ready(ctx: RequestContext) -> pb.ModelReadyResponse:
            try:
                self._dataplane.model(request.name, request.version or None)
            except (NotFound, NotReady):
                return pb.ModelReadyResponse(ready=False)
            return pb.ModelReadyResponse(ready=True)

        return await self._gate.call(RPCS["ModelReady"], context, ready)

    async def ServerMetadata(self, request: pb.ServerMetadataRequest, context: Context) -> Any:
        async def server(ctx: RequestContext) -> Any:
            described = metadata.server_metadata(self._settings.control_token is not None)
            return _message(described, pb.ServerMetadataResponse())

        return await self._gate.call(RPCS["ServerMetadata"], context, server)

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context: Context) -> Any:
        async def model(ctx: RequestContext) -> Any:
            found = metadata.described(self._registry, request.name, request.version or None)
            doc = metadata.model_metadata(self._registry, found)
            return _message(doc, pb.ModelMetadataResponse())

        return await self._gate.call(RPCS["ModelMetadata"], context, model)

    # -- inference ---------------------------------------------------------------------------

    async def ModelInfer(self, request: pb.ModelInferRequest, context: Context) -> Any:
        async def infer(ctx: RequestContext) -> pb.ModelInferResponse:
            model = self._dataplane.model(request.model_name, request.model_version or None)
            ctx.serving(model, "grpc_infer")
            inference = codec.decode(request)
            if inference.id is not None:
                ctx.adopt(inference.id)
            return codec.encode(await self._dataplane.infer(model, inference))

        return await self._gate.call(RPCS["ModelInfer"], context, infer)

    # -- Triton's model configuration and statistics -----------------------------------------

    async def ModelConfig(self, request: pb.ModelConfigRequest, context: Context) -> Any:
        async def config(ctx: RequestContext) -> Any:
            model = metadata.described(self._registry, request.name, request.version or None)
            return _message(
                {
                    "config": model_config(
                        model, self._settings, self._registry.status(model.name).config
                    )
                },
                pb.ModelConfigResponse(),
            )

        return await self._gate.call(RPCS["ModelConfig"], context, config)

    async def ModelStatistics(self, request: pb.ModelStatisticsRequest, context: Context) -> Any:
        async def statistics(ctx: RequestContext) -> Any:
            doc = metadata.model_statistics(self._registry, request.name, request.version)
            return _message(doc, pb.ModelStatisticsResponse())

        return await self._gate.call(RPCS["ModelStatistics"], context, statistics)

    # -- Triton's model repository -------------------------------------------------------------

    async def RepositoryIndex(self, request: pb.RepositoryIndexRequest, context: Context) -> Any:
        async def index(ctx: RequestContext) -> Any:
            entries = metadata.repository_index(self._registry, request.ready)
            return _message({"models": entries}, pb.RepositoryIndexResponse())

        return await self._gate.call(RPCS["RepositoryIndex"], context, index)

    async def RepositoryModelLoad(
        self, request: pb.RepositoryModelLoadRequest, context: Context
    ) -> Any:
        async def load(ctx: RequestContext) -> pb.RepositoryModelLoadResponse:
            name = _model_name(request)
            await model_control.load(self._registry, name, bool(request.parameters))
            return pb.RepositoryModelLoadResponse()

        return await self._gate.call(RPCS["RepositoryModelLoad"], context, load)

    async def RepositoryModelUnload(
        self, request: pb.RepositoryModelUnloadRequest, context: Context
    ) -> Any:
        async def unload(ctx: RequestContext) -> pb.RepositoryModelUnloadResponse:
            await model_control.unload(self._registry, _model_name(request))
            return pb.RepositoryModelUnloadResponse()

        return await self._gate.call(RPCS["RepositoryModelUnload"], context, unload)


def _model_name(request: Any) -> str:
    """Triton sends the name in `model_name`; KServe's protocol file numbers its one field
    `model_name = 1`, which arrives here as Triton's `repository_name` (there is one
    repository, so that field names nothing else)."""
    return str(request.model_name or request.repository_name)
