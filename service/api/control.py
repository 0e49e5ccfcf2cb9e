"""Triton's model repository extension: index, load and unload, by model name only.

Off unless a control token is configured; then every call needs it as a Bearer token,
compared in constant time."""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from service.api.body import read_body
from service.api.context import ServicesDep
from service.api.responses import json_response
from service.api.schemas import RepositoryIndexEntry, error_responses
from service.errors import Forbidden, InvalidInput, Unauthorized
from service.repository import check_name
from service.settings import Settings

router = APIRouter(tags=["v2: model repository"])


def bearer_token(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_control(request: Request, settings: Settings) -> None:
    if settings.control_token is None:
        raise Forbidden("model control is off: set LOGITSERVE_CONTROL_TOKEN to enable it")
    given = bearer_token(request)
    expected = settings.control_token.get_secret_value().encode()
    if given is None or not hmac.compare_digest(given.encode(), expected):
        raise Unauthorized("model control needs the control token as 'Authorization: Bearer ...'")


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
    entries = []
    for name, status in sorted(svc.registry.models.items()):
        for number, version in sorted(status.versions.items()):
            ready = version.model is not None
            if only_ready and not ready:
                continue
            entries.append(
                {
                    "name": name,
                    "version": str(number),
                    "state": "READY" if ready else "UNAVAILABLE",
                    "reason": version.reason or "",
                }
            )
        if not status.versions and not only_ready:
            entries.append({"name": name, "state": "UNAVAILABLE", "reason": status.reason or ""})
    return json_response(entries)


@router.post("/v2/repository/models/{name}/load", **_CONTROL)
async def load(request: Request, svc: ServicesDep, name: str) -> Response:
    require_control(request, svc.settings)
    check_name(name)
    doc = await _body_object(request, svc.settings)
    if doc.get("parameters"):
        raise InvalidInput("models load from the repository by name only: no config, files or URLs")
    await svc.registry.refresh(only=name, explicit=True)
    status = svc.registry.status(name)
    if not status.ready:
        raise InvalidInput(f"failed to load model '{name}': {status.reason}")
    serving = status.serving
    return json_response(
        {"name": name, "ready": True, "version": serving.version if serving else None}
    )


@router.post("/v2/repository/models/{name}/unload", **_CONTROL)
async def unload(request: Request, svc: ServicesDep, name: str) -> Response:
    require_control(request, svc.settings)
    await _body_object(request, svc.settings)
    await svc.registry.unload(name)
    return json_response({"name": name, "ready": False})
