"""v2: the Open Inference Protocol (KServe "V2", as Triton speaks it).

Health, metadata and inference. An inference request goes: the model it addresses
(`DataPlane.model`), the body read within its limit, decoded (`v2_codec.decode`, which owns
the JSON and binary wire formats), `DataPlane.infer`, encoded (`v2_codec.encode`). The model
repository extension is in `control.py`, Triton's statistics and model configuration in
`triton.py`; what they say comes from service/metadata.py, as gRPC's does."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from starlette.responses import Response

from service.api import binary, compression, v2_codec
from service.api.body import read_body
from service.api.deps import ServicesDep, context, services
from service.api.json_budget import budget_for, off_loop
from service.api.openapi import operation_id
from service.api.responses import json_response
from service.api.route_table import PredictionRouter
from service.api.schemas import (
    InferenceRequest,
    InferenceResponse,
    LiveResponse,
    ModelMetadataResponse,
    ModelReadyResponse,
    ReadyResponse,
    ServerMetadataResponse,
    error_responses,
)
from service.errors import NotReady
from service.handlers import metadata
from service.serving.decisions import serving_summary

router = PredictionRouter(
    tags=["v2: Open Inference Protocol"], generate_unique_id_function=operation_id("v2")
)


@router.get("/v2", response_model=ServerMetadataResponse)
def server(svc: ServicesDep) -> Response:
    return json_response(metadata.server_metadata(svc.settings.control_token is not None))


@router.get("/v2/health/live", response_model=LiveResponse)
def live() -> Response:
    return json_response({"live": True})


@router.get("/v2/health/ready", response_model=ReadyResponse, responses=error_responses(503))
def ready(svc: ServicesDep) -> Response:
    registry = svc.registry
    if registry.ready:
        return json_response({"ready": True})
    if registry.repository_error:
        raise NotReady(f"not ready: {registry.repository_error}")
    if not registry.models:
        raise NotReady("not ready: no models in the model repository")
    reasons = [f"{name}: {m.reason}" for name, m in sorted(registry.models.items()) if not m.ready]
    prefix = "not ready: " if registry.strict_readiness else "not ready: no model serves: "
    raise NotReady(prefix + "; ".join(reasons)[:2000])


def _model_metadata(svc: ServicesDep, name: str, version: str | None) -> Response:
    model = metadata.described(svc.registry, name, version)
    described = metadata.model_metadata(svc.registry, model)
    return json_response({**described, "serving": serving_summary(svc.registry.status(name))})


_META: dict[str, Any] = {
    "response_model": ModelMetadataResponse,
    "responses": error_responses(400, 404, 503),
}


@router.get("/v2/models/{name}", **_META)
def model_metadata(svc: ServicesDep, name: str) -> Response:
    return _model_metadata(svc, name, None)


@router.get("/v2/models/{name}/versions/{version}", **_META)
def model_version_metadata(svc: ServicesDep, name: str, version: str) -> Response:
    return _model_metadata(svc, name, version)


_READY: dict[str, Any] = {
    "response_model": ModelReadyResponse,
    "responses": error_responses(400, 404, 503),
}


@router.get("/v2/models/{name}/ready", **_READY)
def model_ready(svc: ServicesDep, name: str) -> Response:
    model = svc.dataplane.model(name, None)
    return json_response({"name": model.name, "ready": True})


@router.get("/v2/models/{name}/versions/{version}/ready", **_READY)
def model_version_ready(svc: ServicesDep, name: str, version: str) -> Response:
    model = svc.dataplane.model(name, version)
    return json_response({"name": model.name, "ready": True})


async def _infer(request: Request, name: str, version: str | None) -> Response:
    svc = services(request)
    model = svc.dataplane.model(name, version)
    ctx = context(request)
    ctx.serving(model, "v2_infer")
    settings = svc.settings
    budget = budget_for(model, settings.max_instances, settings.max_json_bytes)
    body = await read_body(request, settings.max_body_bytes)
    header_length = request.headers.get(binary.HEADER)
    # A binary body's JSON part is small: only a JSON body is worth a thread.
    if header_length is None and off_loop(len(body)):
        inference = await asyncio.to_thread(v2_codec.decode, body, header_length, budget)
    else:
        inference = v2_codec.decode(body, header_length, budget)
    if inference.id is not None:
        ctx.adopt(inference.id)
    response = v2_codec.encode(await svc.dataplane.infer(model, inference))
    if len(response.body) < compression.MIN_BYTES:
        return response  # the usual case, without looking for Accept-Encoding
    return compression.compress(response, request.headers.get("accept-encoding"))


_INFER_DOC: dict[str, Any] = {
    "response_model": InferenceResponse,
    "responses": error_responses(400, 404, 413, 415, 500, 503),
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": InferenceRequest.model_json_schema(
                        ref_template="#/components/schemas/{model}"
                    )
                },
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "JSON, or Triton's binary tensor data extension "
            "(application/octet-stream): a JSON header of Inference-Header-Content-Length "
            "bytes, then the raw tensors",
        },
        "description": "Read from the raw body whatever the Content-Type (stock clients "
        "send binary bodies without one). Outputs: `probabilities` (softmax or sigmoid "
        "applied) and `logits`.",
    },
}


@router.prediction("/v2/models/{name}/infer", fast=True, **_INFER_DOC)
async def infer(request: Request, name: str) -> Response:
    return await _infer(request, name, None)


@router.prediction("/v2/models/{name}/versions/{version}/infer", fast=True, **_INFER_DOC)
async def infer_version(request: Request, name: str, version: str) -> Response:
    return await _infer(request, name, version)
