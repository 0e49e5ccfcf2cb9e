"""`inference.GRPCInferenceService`: the Open Inference Protocol's calls, and Triton's model
configuration, statistics and repository calls, as tritonclient.grpc and KServe's
InferenceGRPCClient make them. Each handler is a few lines over the data plane and the
transport-free descriptions (metadata.py, model_config.py, model_control.py), as HTTP's are; the
gate (gate.py) does what every call needs, its message's parsing included. Streaming, shared
memory, tracing and log settings are not offered (`NOT_OFFERED`): those calls are answered
UNIMPLEMENTED, saying so in words.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from service.edge.request_context import RequestContext
from service.errors import NotFound, NotReady
from service.grpc import codec
from service.grpc.gate import Gate, Rpc
from service.grpc.generated import grpc_service_pb2 as pb
from service.handlers import metadata, model_control
from service.handlers.dataplane import DataPlane
from service.handlers.model_config import model_config
from service.serving.registry import Registry
from service.settings import Settings

SERVICE = "inference.GRPCInferenceService"
METHODS = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods_by_name
# Typed contents of more numbers than this are read into arrays in a thread.
OFF_LOOP_NUMBERS = 65536


def _rpc(method: str, endpoint: str, **options: Any) -> Rpc:
    request = getattr(pb, METHODS[method].input_type.name)
    return Rpc(f"/{SERVICE}/{method}", endpoint, request, **options)


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

# The calls of the protocol not offered, each with what UNIMPLEMENTED says instead.
_SHARED_MEMORY = "shared memory is not offered: send tensors in the request (raw_input_contents)"
NOT_OFFERED = {
    "ModelStreamInfer": "streaming inference is not offered: call ModelInfer once per request",
    "SystemSharedMemoryStatus": _SHARED_MEMORY,
    "SystemSharedMemoryRegister": _SHARED_MEMORY,
    "SystemSharedMemoryUnregister": _SHARED_MEMORY,
    "CudaSharedMemoryStatus": _SHARED_MEMORY,
    "CudaSharedMemoryRegister": _SHARED_MEMORY,
    "CudaSharedMemoryUnregister": _SHARED_MEMORY,
    "TraceSetting": "tracing is not offered: requests are logged as JSON lines, with their ids",
    "LogSettings": "log settings are not offered: the log level is set at start (--log-level)",
}

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


def _message(doc: object, message: Message) -> Any:
    return json_format.ParseDict(doc, message)


class InferenceService:
    def __init__(
        self, gate: Gate, dataplane: DataPlane, registry: Registry, settings: Settings
    ) -> None:
        self._gate = gate
        self._dataplane = dataplane
        self._registry = registry
        self._settings = settings

    # -- health and metadata ---------------------------------------------------------------

    async def ServerLive(self, request: bytes, context: Context) -> Any:
        async def live(ctx: RequestContext, message: pb.ServerLiveRequest) -> Any:
            return pb.ServerLiveResponse(live=True)

        return await self._gate.call(RPCS["ServerLive"], request, context, live)

    async def ServerReady(self, request: bytes, context: Context) -> Any:
        async def ready(ctx: RequestContext, message: pb.ServerReadyRequest) -> Any:
            return pb.ServerReadyResponse(ready=self._registry.ready)

        return await self._gate.call(RPCS["ServerReady"], request, context, ready)

    async def ModelReady(self, request: bytes, context: Context) -> Any:
        async def ready(ctx: RequestContext, message: pb.ModelReadyRequest) -> Any:
            try:
                self._dataplane.model(message.name, message.version or None)
            except (NotFound, NotReady):
                return pb.ModelReadyResponse(ready=False)
            return pb.ModelReadyResponse(ready=True)

        return await self._gate.call(RPCS["ModelReady"], request, context, ready)

    async def ServerMetadata(self, request: bytes, context: Context) -> Any:
        async def server(ctx: RequestContext, message: pb.ServerMetadataRequest) -> Any:
            described = metadata.server_metadata(self._settings.control_token is not None)
            return _message(described, pb.ServerMetadataResponse())

        return await self._gate.call(RPCS["ServerMetadata"], request, context, server)

    async def ModelMetadata(self, request: bytes, context: Context) -> Any:
        async def model(ctx: RequestContext, message: pb.ModelMetadataRequest) -> Any:
            found = metadata.described(self._registry, message.name, message.version or None)
            doc = metadata.model_metadata(self._registry, found)
            return _message(doc, pb.ModelMetadataResponse())

        return await self._gate.call(RPCS["ModelMetadata"], request, context, model)

    # -- inference ---------------------------------------------------------------------------

    async def ModelInfer(self, request: bytes, context: Context) -> Any:
        async def infer(ctx: RequestContext, message: pb.ModelInferRequest) -> Any:
            model = self._dataplane.model(message.model_name, message.model_version or None)
            ctx.serving(model, "grpc_infer")
            if codec.typed_numbers(message) > OFF_LOOP_NUMBERS:
                inference = await asyncio.to_thread(codec.decode, message)
            else:
                inference = codec.decode(message)
            del message  # its typed contents are arrays now: the parsed copy can go
            if inference.id is not None:
                ctx.adopt(inference.id)
            return codec.encode(await self._dataplane.infer(model, inference))

        return await self._gate.call(RPCS["ModelInfer"], request, context, infer)

    # -- Triton's model configuration and statistics -----------------------------------------

    async def ModelConfig(self, request: bytes, context: Context) -> Any:
        async def config(ctx: RequestContext, message: pb.ModelConfigRequest) -> Any:
            model = metadata.described(self._registry, message.name, message.version or None)
            return _message(
                {
                    "config": model_config(
                        model, self._settings, self._registry.status(model.name).config
                    )
                },
                pb.ModelConfigResponse(),
            )

        return await self._gate.call(RPCS["ModelConfig"], request, context, config)

    async def ModelStatistics(self, request: bytes, context: Context) -> Any:
        async def statistics(ctx: RequestContext, message: pb.ModelStatisticsRequest) -> Any:
            doc = metadata.model_statistics(self._registry, message.name, message.version)
            return _message(doc, pb.ModelStatisticsResponse())

        return await self._gate.call(RPCS["ModelStatistics"], request, context, statistics)

    # -- Triton's model repository -------------------------------------------------------------

    async def RepositoryIndex(self, request: bytes, context: Context) -> Any:
        async def index(ctx: RequestContext, message: pb.RepositoryIndexRequest) -> Any:
            entries = metadata.repository_index(self._registry, message.ready)
            return _message({"models": entries}, pb.RepositoryIndexResponse())

        return await self._gate.call(RPCS["RepositoryIndex"], request, context, index)

    async def RepositoryModelLoad(self, request: bytes, context: Context) -> Any:
        async def load(ctx: RequestContext, message: pb.RepositoryModelLoadRequest) -> Any:
            name = _model_name(message)
            await model_control.load(self._registry, name, bool(message.parameters))
            return pb.RepositoryModelLoadResponse()

        return await self._gate.call(RPCS["RepositoryModelLoad"], request, context, load)

    async def RepositoryModelUnload(self, request: bytes, context: Context) -> Any:
        async def unload(ctx: RequestContext, message: pb.RepositoryModelUnloadRequest) -> Any:
            await model_control.unload(self._registry, _model_name(message))
            return pb.RepositoryModelUnloadResponse()

        return await self._gate.call(RPCS["RepositoryModelUnload"], request, context, unload)


def _model_name(request: Any) -> str:
    """Triton sends the name in `model_name`; KServe's protocol file numbers its one field
    `model_name = 1`, which arrives here as Triton's `repository_name` (there is one
    repository, so that field names nothing else)."""
    return str(request.model_name or request.repository_name)
