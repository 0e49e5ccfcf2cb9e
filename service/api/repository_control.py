"""Triton's model repository extension over HTTP: index, load and unload, by model name only
(the rules are service/model_control.py's, shared with gRPC); and the lifecycle beyond it: promote,
pin, unpin and canary a version.

Each action is recorded in the model's control.json (control_state.py): this worker applies
it before answering, every other worker and every replica sharing the repository at its next
rescan."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from modelrepo.control_state import Action
from service.api.body import read_body
from service.api.deps import Services, ServicesDep
from service.api.openapi import operation_id
from service.api.responses import json_response
from service.api.schemas import (
    CanaryRequest,
    ControlResponse,
    ModelLoadRequest,
    RepositoryIndexEntry,
    RepositoryIndexRequest,
    error_responses,
)
from service.errors import InvalidInput
from service.handlers import model_control
from service.handlers.metadata import repository_index
from service.repository.folders import check_name, check_version
from service.settings import Settings

router = APIRouter(
    tags=["v2: model repository"], generate_unique_id_function=operation_id("v2_repository")
)


def require_control(request: Request, svc: Services) -> None:
    client = request.client.host if request.client else None
    refusal = svc.credentials.control_refusal(client, request.headers.get("authorization"))
    if refusal is not None:
        raise refusal


async def _body_object(request: Request, settings: Settings) -> dict[str, object]:
    body = await read_body(request, 64 * 1024)
    if not body.strip():
        return {}
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("malformed JSON") from None
    if type(doc) is not dict:
        raise InvalidInput("the body must be a JSON object")
    return doc


_CONTROL: dict[str, Any] = {"responses": error_responses(400, 401, 403, 404)}


def _body(model: type[BaseModel], required: bool = False) -> dict[str, Any]:
    """The JSON body a route reads by hand (`_body_object`), for the OpenAPI document."""
    schema = {"schema": model.model_json_schema()}
    return {"requestBody": {"required": required, "content": {"application/json": schema}}}


_ACTION: dict[str, Any] = {**_CONTROL, "response_model": ControlResponse}


@router.post(
    "/v2/repository/index",
    response_model=list[RepositoryIndexEntry],
    openapi_extra=_body(RepositoryIndexRequest),
    **_CONTROL,
)
async def index(request: Request, svc: ServicesDep) -> Response:
    require_control(request, svc)
    only_ready = (await _body_object(request, svc.settings)).get("ready", False) is True
    return json_response(repository_index(svc.registry, only_ready))


@router.post("/v2/repository/models/{name}/load", openapi_extra=_body(ModelLoadRequest), **_CONTROL)
async def load(request: Request, svc: ServicesDep, name: str) -> Response:
    require_control(request, svc)
    doc = await _body_object(request, svc.settings)
    version = await model_control.load(svc.registry, name, bool(doc.get("parameters")))
    return json_response({"name": name, "ready": True, "version": version})


@router.post("/v2/repository/models/{name}/unload", **_CONTROL)
async def unload(request: Request, svc: ServicesDep, name: str) -> Response:
    require_control(request, svc)
    await _body_object(request, svc.settings)
    await model_control.unload(svc.registry, name)
    return json_response({"name": name, "ready": False})


async def _act(
    request: Request,
    svc: Services,
    name: str,
    action: Action,
    version: str | None = None,
    weight: float | None = None,
) -> Response:
    number = check_version(version) if version is not None else None
    said = await svc.registry.control(check_name(name), action, number, weight)
    status = svc.registry.status(name)
    serving, canary = status.serving, status.canary
    return json_response(
        {
            "name": name,
            "action": said,
            "serving_version": serving.version if serving else None,
            "canary": {"version": canary[0].version, "weight": round(canary[1] * 100, 3)}
            if canary
            else None,
            "applied_everywhere_within_s": svc.settings.reload_interval_s,
        }
    )


@router.post("/v2/repository/models/{name}/versions/{version}/promote", **_ACTION)
async def promote(request: Request, svc: ServicesDep, name: str, version: str) -> Response:
    """The version answers requests without a version from now on, and newer versions are
    judged by the promotion gate against it."""
    require_control(request, svc)
    await _body_object(request, svc.settings)
    return await _act(request, svc, name, "promote", version)


@router.post("/v2/repository/models/{name}/versions/{version}/pin", **_ACTION)
async def pin(request: Request, svc: ServicesDep, name: str, version: str) -> Response:
    """The version answers requests without a version whatever else is published, until
    unpinned."""
    require_control(request, svc)
    await _body_object(request, svc.settings)
    return await _act(request, svc, name, "pin", version)


@router.post("/v2/repository/models/{name}/unpin", **_ACTION)
async def unpin(request: Request, svc: ServicesDep, name: str) -> Response:
    require_control(request, svc)
    await _body_object(request, svc.settings)
    return await _act(request, svc, name, "unpin")


@router.post(
    "/v2/repository/models/{name}/versions/{version}/canary",
    openapi_extra=_body(CanaryRequest, required=True),
    **_ACTION,
)
async def canary(request: Request, svc: ServicesDep, name: str, version: str) -> Response:
    """Body `{"weight": 10}`: the percentage of requests without a version that the version
    answers; 0 ends the canary, 100 promotes the version."""
    require_control(request, svc)
    weight = (await _body_object(request, svc.settings)).get("weight")
    if type(weight) not in (int, float) or not 0 <= weight <= 100:  # type: ignore[operator]
        raise InvalidInput('the body must be {"weight": W}, W a number from 0 to 100 (percent)')
    return await _act(request, svc, name, "canary", version, float(weight))  # type: ignore[arg-type]
