"""Triton's statistics and model configuration extensions over HTTP, in Triton's JSON, so
that tritonclient's `get_inference_statistics()` and `get_model_config()` work (gRPC serves
the same from the same functions)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from service.api.deps import ServicesDep
from service.api.openapi import operation_id
from service.api.responses import json_response
from service.api.schemas import error_responses
from service.handlers import metadata
from service.handlers.metadata import model_statistics
from service.handlers.model_config import model_config

router = APIRouter(
    tags=["v2: Triton's statistics and model configuration"],
    generate_unique_id_function=operation_id("v2"),
)

_STATS: dict[str, Any] = {
    "responses": error_responses(400, 404, 503),
    "description": "Triton's statistics extension: counts and cumulative nanoseconds per "
    "model version since it loaded (this process's requests only, with several workers).",
}
_CONFIG: dict[str, Any] = {
    "responses": error_responses(400, 404, 503),
    "description": "Triton's model configuration (model_config.proto as JSON), made from "
    "the manifest and the settings.",
}


# Declared before v2's /v2/models/{name}, which would otherwise take "stats" for a name.
@router.get("/v2/models/stats", **_STATS)
def all_statistics(svc: ServicesDep) -> Response:
    return json_response(model_statistics(svc.registry))


@router.get("/v2/models/{name}/stats", **_STATS)
def statistics(svc: ServicesDep, name: str) -> Response:
    return json_response(model_statistics(svc.registry, name))


@router.get("/v2/models/{name}/versions/{version}/stats", **_STATS)
def version_statistics(svc: ServicesDep, name: str, version: str) -> Response:
    return json_response(model_statistics(svc.registry, name, version))


@router.get("/v2/models/{name}/config", **_CONFIG)
def config(svc: ServicesDep, name: str) -> Response:
    model = metadata.described(svc.registry, name, None)
    return json_response(model_config(model, svc.settings, svc.registry.status(name).config))


@router.get("/v2/models/{name}/versions/{version}/config", **_CONFIG)
def version_config(svc: ServicesDep, name: str, version: str) -> Response:
    model = metadata.described(svc.registry, name, version)
    return json_response(model_config(model, svc.settings, svc.registry.status(name).config))
