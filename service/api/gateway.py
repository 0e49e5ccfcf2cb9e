"""The outermost ASGI app: every request passes through here once.

It gives the request its id (api/request_ids.py), counts it in flight, applies the
refusals (api/admission.py), then either calls a fast prediction route's handler directly
(api/routes.py) or hands the request to FastAPI; and when the answer has gone out, records
it (api/access.py). Each of those is its own small piece; this only puts them in order.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit, urlunsplit

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from service import logs
from service.api.http_errors import error_response, internal_error_response
from service.api.refusals import EXEMPT, BodyLimit, query_credentials
from service.api.route_table import Endpoint, PredictionRoute, RouteTable
from service.edge.access import AccessRecord
from service.edge.admission import InFlightLimit
from service.edge.credentials import Credentials
from service.edge.inflight import InFlight
from service.edge.request_context import RequestContext
from service.edge.request_ids import RequestIds
from service.errors import ServiceError
from service.metrics.prometheus import Metrics
from service.settings import Settings

log = logging.getLogger("logitserve.gateway")


class Gateway:
    def __init__(
        self,
        app: FastAPI,
        routes: RouteTable,
        settings: Settings,
        inflight: InFlight,
        metrics: Metrics,
        credentials: Credentials,
        access: AccessRecord,
    ) -> None:
        self.app = app
        self.routes = routes
        self._inflight = inflight
        self._ids = RequestIds()
        self._limit = InFlightLimit(
            inflight, settings.max_inflight, lambda: metrics.rejected("overloaded")
        )
        self._body = BodyLimit(settings.max_body_bytes)
        self._credentials = credentials
        self._access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        # HEAD is GET without the body (monitors probe with it): the app sees a GET, keys,
        # limits and metrics apply alike, and the body is dropped on the way out.
        head = method == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
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
        ctx = RequestContext(*self._ids.choose(given_id))
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
                headers = message.get("headers", [])
                if 300 <= status < 400:
                    headers = _relative_locations(headers)
                message["headers"] = [*headers, (b"x-request-id", ctx.request_id.encode())]
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        counted = path not in EXEMPT  # health and metrics are neither counted nor refused
        if counted:
            self._inflight.enter()
        try:
            matched = self.routes.match(path)
            refusal = self._refusal(scope, counted, matched, auth, api_key, declared)
            if refusal is not None:
                await error_response(refusal)(scope, receive, send_with_id)
            elif matched is not None and matched[0].fast and scope["method"] in matched[0].methods:
                route, params = matched
                response = await self._call(route.endpoint, Request(scope, receive), params, ctx)
                # Sent here rather than through the response and send_with_id: the fast
                # routes' responses are plain bodies, and each wrapper costs a little.
                headers = response.raw_headers
                headers.append((b"x-request-id", ctx.request_id.encode()))
                status = response.status_code
                response_started = True
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": response.body})
            else:
                await self.app(scope, self._body.limited(receive), send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"path": path[:200]})
            if not response_started:
                await internal_error_response(ctx.request_id)(scope, receive, send_with_id)
        finally:
            if counted:
                self._inflight.leave()
            self._access.record(ctx, method, path, status, time.perf_counter() - started)
            logs.request_id.reset(token)

    def _refusal(
        self,
        scope: Scope,
        counted: bool,
        matched: tuple[PredictionRoute, dict[str, str]] | None,
        auth: bytes | None,
        api_key: bytes | None,
        declared: bytes | None,
    ) -> ServiceError | None:
        refusal: ServiceError | None = None
        if counted:
            refusal = self._limit.refusal()
        query: bytes = scope.get("query_string", b"")
        if refusal is None and query:
            refusal = query_credentials(query)
        if refusal is None and declared is not None:
            refusal = self._body.refusal(declared)
        if refusal is None and matched is not None and self._credentials.keyed:
            client = scope.get("client")
            refusal = self._credentials.key_refusal(client and client[0], auth, api_key)
        return refusal

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


def _relative_locations(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Redirects (Starlette's trailing-slash ones) name the path only: their absolute URL
    would carry the client's Host header back to it, for anyone to plant a link."""
    fixed = []
    for key, value in headers:
        if key.lower() == b"location":
            url = urlsplit(value.decode("latin-1"))
            value = urlunsplit(("", "", url.path or "/", url.query, "")).encode("latin-1")
        fixed.append((key, value))
    return fixed
