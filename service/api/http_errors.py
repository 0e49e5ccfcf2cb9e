"""HTTP's one error body shape, `{"error": "..."}` (the Open Inference Protocol's, used by v1
too), with the status edge/statuses.py gives each domain error; FastAPI's own errors (unknown
route, bad query parameter) are routed into the same shape."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from service.edge.statuses import status_of
from service.errors import Overloaded, ServiceError, Unauthorized

log = logging.getLogger("logitserve.api")


def error_body(message: str) -> bytes:
    # Client text can hold lone surrogates, which no JSON encoder accepts: escape them first.
    safe = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return orjson.dumps({"error": safe})


def error_response(exc: ServiceError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, Overloaded):
        headers["Retry-After"] = str(exc.retry_after_s)
    elif isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    return Response(
        error_body(exc.message),
        status_code=status_of(exc),
        headers=headers,
        media_type="application/json",
    )


def internal_error_response(request_id: str) -> Response:
    """A server fault: the details go to the log under the request id, never to the client."""
    return Response(
        error_body(f"internal server error (request id {request_id})"),
        status_code=500,
        media_type="application/json",
    )


def install(app: FastAPI) -> None:
    """Route FastAPI's own errors (unknown route, bad query parameter) into the same shape."""

    async def on_service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        return error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        messages = {404: "no such route", 405: "method not allowed on this route"}
        message = messages.get(exc.status_code, str(exc.detail))
        return Response(
            error_body(message),
            status_code=exc.status_code,
            headers=exc.headers,
            media_type="application/json",
        )

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = []
        for error in exc.errors()[:5]:
            where = ".".join(str(p) for p in error.get("loc", ()))
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
        return Response(
            error_body("invalid request: " + "; ".join(problems)),
            status_code=400,
            media_type="application/json",
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        # Starlette still re-raises it after this reply, so the gateway logs the traceback.
        return internal_error_response(request.scope["logitserve"].request_id)

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
