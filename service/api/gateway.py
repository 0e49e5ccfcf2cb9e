"""The outermost ASGI app: what every request goes through, and a shortcut for the hot ones.

Every request gets a request id (from X-Request-ID if it is sane, else a new one), the
in-flight limit (503 with Retry-After past it, health and metrics exempt), the body-size
limit, API keys on prediction routes when configured, refusal of credentials in query
strings, metrics and one access-log line.

The inference endpoints (v1 predict, v2 infer) are called directly: the endpoint function
FastAPI would call, with the same path parameters, minus FastAPI's middleware and
dependency machinery, which measured at about half the cost of a small request. Every other
route goes through FastAPI as usual, and the hot ones still work that way too.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from service import logs
from service.api.context import RequestContext, Services
from service.api.errors import error_response, internal_error_response
from service.errors import InvalidInput, Overloaded, PayloadTooLarge, ServiceError, Unauthorized

log = logging.getLogger("logitserve.gateway")
access_log = logging.getLogger("logitserve.access")

Endpoint = Callable[..., Awaitable[Response]]

EXEMPT = frozenset({"/v2/health/live", "/v2/health/ready", "/metrics"})
PREDICTION = re.compile(r"/v[12]/models/.+/(predict|predict/image|infer)")
SAFE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
CREDENTIAL_PARAMS = frozenset(
    {"token", "access_token", "api_key", "apikey", "api-key", "key", "password", "auth"}
)


class Gateway:
    def __init__(self, app: FastAPI, services: Services, hot: list[APIRoute]) -> None:
        self.app = app
        self._services = services
        settings = services.settings
        self._limit = settings.max_inflight
        self._max_body = settings.max_body_bytes
        self._api_keys = [k.encode() for k in settings.api_keys]
        self._access = settings.access_log
        self._metrics = services.metrics
        self.inflight = 0
        # Request ids: a random prefix per process and a counter, unique without a syscall each.
        self._id_prefix = os.urandom(4).hex()
        self._ids = itertools.count()
        self._hot = [(route.path_regex, route.methods, route.endpoint) for route in hot]
        self.hot_paths = [route.path for route in hot]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        given_id = auth = api_key = declared = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                given_id = value
            elif key == b"authorization":
                auth = value
            elif key == b"x-api-key":
                api_key = value
            elif key == b"content-length":
                declared = value
        if given_id is not None and SAFE_ID.fullmatch(given_id):
            ctx = RequestContext(given_id.decode(), request_id_from_client=True)
        else:
            ctx = RequestContext(f"{self._id_prefix}{next(self._ids):08x}", False)
        scope["logitserve"] = ctx
        scope["app"] = self.app
        token = logs.request_id.set(ctx.request_id)
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", ctx.request_id.encode()),
                ]
            await send(message)

        counted = path not in EXEMPT
        if counted:
            self.inflight += 1
        try:
            refusal = self._refusal(scope, path, counted, auth, api_key, declared)
            if refusal is not None:
                await error_response(refusal)(scope, receive, send_with_id)
                return
            hot = self._match(scope["method"], path)
            if hot is not None:
                endpoint, params = hot
                response = await self._call(endpoint, Request(scope, receive), params, ctx)
                # Sent here rather than through the response and send_with_id: the hot
                # routes' responses are plain bodies, and each wrapper costs a little.
                headers = response.raw_headers
                headers.append((b"x-request-id", ctx.request_id.encode()))
                status = response.status_code
                response_started = True
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": response.body})
            else:
                await self.app(scope, self._limited(receive), send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": path[:200]})
            if not response_started:
                await internal_error_response(ctx.request_id)(scope, receive, send_with_id)
        finally:
            if counted:
                self.inflight -= 1
            elapsed = time.perf_counter() - started
            self._metrics.request(
                ctx.model or "-", ctx.version or "-", ctx.endpoint, status, elapsed
            )
            if self._access:
                access_log.info(
                    "request",
                    extra={
                        "request_id": ctx.request_id,
                        "method": scope["method"],
                        "path": path[:200].encode("utf-8", "backslashreplace").decode(),
                        "status": status,
                        "ms": round(elapsed * 1000, 3),
                        "model": ctx.model or None,
                        "version": ctx.version or None,
                    },
                )
            logs.request_id.reset(token)

    def _refusal(
        self,
        scope: Scope,
        path: str,
        counted: bool,
        auth: bytes | None,
        api_key: bytes | None,
        declared: bytes | None,
    ) -> ServiceError | None:
        if counted and self.inflight > self._limit:
            self._metrics.rejected("overloaded")
            return Overloaded("the server is at its limit of requests in flight; retry shortly")
        query: bytes = scope.get("query_string", b"")
        if query:
            names = {
                k.lower() for k, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            }
            if names & CREDENTIAL_PARAMS:
                return InvalidInput(
                    "credentials in the query string are refused (they end up in logs): "
                    "send them in the Authorization header"
                )
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            return PayloadTooLarge(f"request body larger than the limit of {self._max_body} bytes")
        if self._api_keys and PREDICTION.fullmatch(path):
            given = api_key
            if given is None and auth is not None and auth[:7].lower() == b"bearer ":
                given = auth[7:].strip()
            if given is None or not _any_equal(given, self._api_keys):
                return Unauthorized(
                    "this route needs an API key (Authorization: Bearer or X-API-Key)"
                )
        return None

    def _match(self, method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
        for regex, methods, endpoint in self._hot:
            match = regex.match(path)
            if match is not None and methods is not None and method in methods:
                return endpoint, match.groupdict()
        return None

    async def _call(
        self, endpoint: Endpoint, request: Request, params: dict[str, str], ctx: RequestContext
    ) -> Response:
        request.scope["path_params"] = params
        try:
            return await endpoint(request, **params)
        except ServiceError as exc:
            return error_response(exc)
        except Exception:
            log.exception("unhandled error in endpoint")
            return internal_error_response(ctx.request_id)

    def _limited(self, receive: Receive) -> Receive:
        """FastAPI's routes read bodies themselves (multipart): stop them at the limit too."""
        received = 0
        limit = self._max_body

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"request body larger than the limit of {limit} bytes")
            return message

        return limited


def _any_equal(given: bytes, keys: list[bytes]) -> bool:
    # Compare with every key, without stopping early, so timing says nothing about which matched.
    result = False
    for key in keys:
        result |= hmac.compare_digest(given, key)
    return result
