"""Triton's model repository extension: index, load and unload, by model name only; and
the lifecycle beyond it: promote, pin, unpin and canary a version.

Off unless a control token is configured; then every call needs it as a Bearer token,
compared in constant time. Each action is recorded in the model's control.json
(control_state.py): this worker applies it before answering, every other worker and every
replica sharing the repository at its next rescan."""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from service.api.body import read_body
from service.api.context import Services, ServicesDep
from service.api.responses import json_response
from service.api.schemas import RepositoryIndexEntry, error_responses
from service.control_state import Action
from service.errors import Forbidden, InvalidInput, Unauthorized
from service.repository import check_name, check_version
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
    status = await svc.registry.load(name)
    if not status.ready:
        raise InvalidInput(f"failed to load model '{name}': {status.reason}")
    serving = status.serving
    return json_response(
        {"name": name, "ready": True, "version": serving.version if serving else None}
    )


@router.post("/v2/repository/models/{name}/unload", **_CONTROL)
async def unload(request: Request, svc: ServicesDep, name: str) -> Response:
    require_control(request, svc.settings)
    check_name(name)
    await _body_object(request, svc.settings)
    await svc.registry.unload(name)
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


@router.post("/v2/repository/models/{name}/versions/{version}/promote", **_CONTROL)
async def promote(request: Request, svc: ServicesDep, name: str, version: str) -> Response:
    """The version answers requests without a version from now on, and newer versions are
    judged by the promotion gate against it."""
    require_control(request, svc.settings)
    await _body_object(request, svc.settings)
    return await _act(request, svc, name, "promote", version)


@router.post("/v2/repository/models/{name}/versions/{version}/pin", **_CONTROL)
async def pin(request: Request, svc: ServicesDep, name: str, version: str) -> Response:
    """The version answers requests without a version whatever else is published, until
    unpinned."""
    require_control(request, svc.settings)
    await _body_object(request, svc.settings)
    return await _act(request, svc, name, "pin", version)


@router.post("/v2/repository/models/{name}/unpin", **_CONTROL)
async def unpin(request: Request, svc: ServicesDep, name: str) -> Response:
    require_control(request, svc.settings)
    await _body_object(request, svc.settings)
    return await _act(request, svc, name, "unpin")


@router.post("/v2/repository/models/{name}/versions/{version}/canary", **_CONTROL)
async def canary(request: Request, svc: ServicesDep, name: str, version: str) -> Response:
    """Body `{"weight": 10}`: the percentage of requests without a version that the version
    answers; 0 ends the canary, 100 promotes the version."""
    require_control(request, svc.settings)
    weight = (await _body_object(request, svc.settings)).get("weight")
    if type(weight) not in (int, float) or not 0 <= weight <= 100:  # type: ignore[operator]
        raise InvalidInput('the body must be {"weight": W}, W a number from 0 to 100 (percent)')
    return await _act(request, svc, name, "canary", version, float(weight))  # type: ignore[arg-type]
