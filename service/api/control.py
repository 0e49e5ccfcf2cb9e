"""Triton's model repository extension over HTTP: index, load and unload, by model name only
(the rules are service/control.py's, shared with gRPC)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from service import control
from service.api.body import read_body
from service.api.context import ServicesDep
from service.api.responses import json_response
from service.api.schemas import RepositoryIndexEntry, error_responses
from service.errors import InvalidInput
from service.metadata import repository_index
from service.settings import Settings

router = APIRouter(tags=["v2: model repository"])


def require_control(request: Request, settings: Settings) -> None:
    refusal = control.ControlToken(settings.control_token).refusal(
        request.headers.get("authorization")
    )
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


@router.post("/v2/repository/index", response_model=list[RepositoryIndexEntry], **_CONTROL)
async def index(request: Request, svc: ServicesDep) -> Response:
    require_control(request, svc.settings)
    only_ready = (await _body_object(request, svc.settings)).get("ready", False) is True
    return json_response(repository_index(svc.registry, only_ready))


@router.post("/v2/repository/models/{name}/load", **_CONTROL)
async def load(request: Request, svc: ServicesDep, name: str) -> Response:
    require_control(request, svc.settings)
    doc = await _body_object(request, svc.settings)
    version = await control.load(svc.registry, name, bool(doc.get("parameters")))
    return json_response({"name": name, "ready": True, "version": version})


@router.post("/v2/repository/models/{name}/unload", **_CONTROL)
async def unload(request: Request, svc: ServicesDep, name: str) -> Response:
    require_control(request, svc.settings)
    await _body_object(request, svc.settings)
    await control.unload(svc.registry, name)
    return json_response({"name": name, "ready": False})
