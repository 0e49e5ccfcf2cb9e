"""The OpenAPI document: FastAPI's, made to say what the service does.

- The inference routes read their bodies by hand (binary bodies, speed), so FastAPI cannot
  infer their request schemas; they declare them in `openapi_extra`, and this moves the
  nested definitions into `components` where the references point.
- Operation ids read as the route does (`v1_predict`, `v2_infer`), from each router's prefix.
- Errors are 400 `{"error"}` (http_errors.py turns FastAPI's validation errors into it): the
  422 FastAPI documents is never sent.
- Credentials: the prediction routes (the route table's) need an API key when keys are
  configured, the repository routes the control token: both are security schemes, so /docs
  has an Authorize button and generated clients know them.
- Limits the settings enforce are the schema's: `top_k` at most `--max-top-k`.

Checked against the OpenAPI 3.1 specification in tests/service/api/test_openapi.py."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

API_KEY_SCHEMES = {
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "one of --api-keys (LOGITSERVE_API_KEYS)",
    },
    "apiKeyBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "one of --api-keys, as `Authorization: Bearer KEY`",
    },
}
CONTROL_SCHEME = {
    "controlToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "--control-token (LOGITSERVE_CONTROL_TOKEN): the repository routes "
        "answer 403 without one configured",
    }
}
UNUSED_SCHEMAS = ("HTTPValidationError", "ValidationError")


def operation_id(prefix: str) -> Callable[[APIRoute], str]:
    """A router's operation ids: its prefix and the handler's name (`v1_predict`)."""

    def name(route: APIRoute) -> str:
        return f"{prefix}_{route.name}" if prefix else route.name

    return name


def install(
    app: FastAPI,
    *,
    keyed_paths: Iterable[str],
    control_paths: Iterable[str],
    api_keys: bool,
    max_top_k: int,
) -> None:
    """`keyed_paths`: the prediction routes (which need a key when `api_keys`);
    `control_paths`: the routes that need the control token."""
    keyed, controlled = frozenset(keyed_paths), frozenset(control_paths)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # A copy: the routes' declarations (openapi_extra) are shared by every app made.
            schema = copy.deepcopy(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
            components = schema.setdefault("components", {})
            _hoist_definitions(schema, components.setdefault("schemas", {}))
            schemes = {**(API_KEY_SCHEMES if api_keys else {}), **CONTROL_SCHEME}
            components["securitySchemes"] = schemes
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    _errors_are_400(operation)
                    _limits(operation, max_top_k)
                    if path in keyed and api_keys:
                        operation["security"] = [{name: []} for name in API_KEY_SCHEMES]
                        operation["responses"].setdefault(
                            "401", _error("no API key, or not one of --api-keys")
                        )
                    elif path in controlled:
                        operation["security"] = [{"controlToken": []}]
            for unused in UNUSED_SCHEMAS:
                components["schemas"].pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _hoist_definitions(schema: dict[str, Any], components: dict[str, Any]) -> None:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                body_schema = media.get("schema", {})
                for name, definition in body_schema.pop("$defs", {}).items():
                    components.setdefault(name, definition)


def _errors_are_400(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    if responses.pop("422", None) is not None and "400" not in responses:
        responses["400"] = _error("invalid request")


def _error(description: str) -> dict[str, Any]:
    body = {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
    return {"description": description, "content": {"application/json": body}}


def _limits(operation: dict[str, Any], max_top_k: int) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "top_k":
            parameter["schema"]["maximum"] = max_top_k
