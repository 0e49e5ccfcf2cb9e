"""The OpenAPI document: FastAPI's, plus the request schemas of the raw-body routes.

The inference routes read their bodies by hand (binary bodies, speed), so FastAPI cannot
infer their request schemas; they declare them in `openapi_extra`, and this moves the
nested definitions into `components` where the references point."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    content = operation.get("requestBody", {}).get("content", {})
                    for media in content.values():
                        body_schema = media.get("schema", {})
                        for name, definition in body_schema.pop("$defs", {}).items():
                            components.setdefault(name, definition)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
