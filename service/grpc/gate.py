"""What every gRPC call goes through, once, in the order the HTTP gateway uses
(api/gateway.py): its request id (the client's `x-request-id` metadata when safe, echoed in
the trailing metadata), the in-flight count and limit, the credentials its declaration asks
for (an API key on calls that run a model, the control token on repository calls, both from
`authorization: Bearer ...` or `x-api-key` metadata), then its message parsed within bounds
(wire.py; grpcio hands over the bytes, so a refused call never parses anything), errors
turned into status codes with the HTTP messages, and, once answered, the request metrics and
the access-log line.

Each call is declared once (`Rpc`), and the gate reads the declaration: a new call that
runs a model needs a key by being declared so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import grpc
from google.protobuf.message import Message

from service import logs
from service.edge.access import AccessRecord
from service.edge.admission import InFlightLimit
from service.edge.credentials import Credentials
from service.edge.inflight import InFlight
from service.edge.request_context import RequestContext
from service.edge.request_ids import RequestIds
from service.edge.statuses import status_of
from service.errors import ServiceError
from service.grpc import wire
from service.grpc.codes import code_of
from service.metrics.prometheus import Metrics
from service.settings import Settings

log = logging.getLogger("logitserve.grpc")

T = TypeVar("T")
# The handler gets the call's context and its request message, parsed.
Handler = Callable[[RequestContext, Any], Awaitable[T]]

# Messages larger than this are parsed in a thread: the loop answers others meanwhile.
OFF_LOOP_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Rpc:
    path: str  # as on the wire: /inference.GRPCInferenceService/ModelInfer
    endpoint: str  # the request metrics' endpoint label
    request: type[Message]  # what its bytes are parsed as
    needs: Literal["nothing", "api key", "control token"] = "nothing"
    counted: bool = True  # in flight and refused past the limit (health is not)


class Gate:
    def __init__(
        self,
        settings: Settings,
        inflight: InFlight,
        metrics: Metrics,
        credentials: Credentials,
        access: AccessRecord,
    ) -> None:
        self._inflight = inflight
        self._ids = RequestIds()
        self._limit = InFlightLimit(
            inflight, settings.max_inflight, lambda: metrics.rejected("overloaded")
        )
        self._credentials = credentials
        self._access = access
        # As many numbers as the body limit holds in their densest real form (4-byte floats):
        # packed varint zeros, a byte each, would parse into 4 to 8 times the body limit.
        self._max_numbers = settings.max_body_bytes // 4
        self._max_bytes = settings.max_body_bytes

    async def call(
        self,
        rpc: Rpc,
        request: bytes,
        context: grpc.aio.ServicerContext,
        handler: Handler[T],
    ) -> T | None:
        """The handler's answer, or None once the call's status says why there is none."""
        started = time.perf_counter()
        given_id = auth = api_key = None
        for key, value in context.invocation_metadata() or ():
            if key == "x-request-id":
                given_id = value
            elif key == "authorization":
                auth = value
            elif key == "x-api-key":
                api_key = value
        ctx = RequestContext(*self._ids.choose(_bytes(given_id)))
        token = logs.request_id.set(ctx.request_id)
        status = 500
        if rpc.counted:
            self._inflight.enter()
        try:
            refused = self._refused(rpc, context, auth, api_key)
            if refused is None:
                try:
                    result = await handler(ctx, await self._parse(rpc, request))
                except ServiceError as exc:
                    refused = _answer(exc)
                else:
                    status = 200
                    context.set_trailing_metadata((("x-request-id", ctx.request_id),))
                    return result
            status, code, message = refused
        except asyncio.CancelledError:
            status = 499  # the client went away, as nginx counts it
            raise
        except Exception:
            log.exception("unhandled error", extra={"path": rpc.path})
            code = grpc.StatusCode.INTERNAL
            message = f"internal server error (request id {ctx.request_id})"
        finally:
            if rpc.counted:
                self._inflight.leave()
            self._access.record(ctx, "GRPC", rpc.path, status, time.perf_counter() - started)
            logs.request_id.reset(token)
        # Answered by setting the status, not by context.abort(): abort raises an exception
        # that grpcio keeps on the call, whose traceback holds these frames, the request's
        # bytes among them, in a cycle only the garbage collector's rare full passes free.
        context.set_code(code)
        context.set_details(message)
        context.set_trailing_metadata((("x-request-id", ctx.request_id),))
        return None

    async def _parse(self, rpc: Rpc, request: bytes) -> Message:
        # A compressed message may inflate to the size limit: always in a thread.
        if len(request) > OFF_LOOP_BYTES or wire.compressed(request):
            return await asyncio.to_thread(self._read, rpc, request)
        return self._read(rpc, request)

    def _read(self, rpc: Rpc, request: bytes) -> Message:
        request = wire.inflated(request, self._max_bytes)
        return wire.parse(request, rpc.request, self._max_numbers)

    def _refused(
        self, rpc: Rpc, context: grpc.aio.ServicerContext, auth: str | None, api_key: str | None
    ) -> tuple[int, grpc.StatusCode, str] | None:
        refusal: ServiceError | None = self._limit.refusal() if rpc.counted else None
        credentials = self._credentials
        if refusal is None and rpc.needs == "api key" and credentials.keyed:
            client = _client(context.peer())
            refusal = credentials.key_refusal(client, _bytes(auth), _bytes(api_key))
        if refusal is None and rpc.needs == "control token":
            refusal = credentials.control_refusal(_client(context.peer()), auth)
        return None if refusal is None else _answer(refusal)


def _answer(error: ServiceError) -> tuple[int, grpc.StatusCode, str]:
    """What a refusal is answered and recorded with (the error itself is not kept)."""
    return status_of(error), code_of(error), error.message


def _client(peer: str | None) -> str | None:
    """The client's address in grpcio's peer string: `ipv4:10.1.2.3:5555`, `ipv6:[::1]:5555`."""
    kind, _, rest = (peer or "").partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    return rest.rpartition(":")[0].strip("[]") or None


def _bytes(value: str | bytes | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return value.encode("utf-8", "surrogateescape")
