"""HTTP/1.1 connections with bounds on what one client can hold: the size and time of its
headers, the time and size of its body, how many connections are open, how many are still
sending a body, and how many body bytes all requests hold together.

The app never sees a client that has not finished its headers, so these limits live in the
protocol: uvicorn's httptools protocol parses, and this subclass keeps the clocks and counts.
A request reaches the app only once its body has arrived whole, so a slow or stalled upload
holds a connection, never a place among the requests in flight (`--max-inflight`). A client
past a limit gets a short JSON error (408, 413, 431 or 503) and its connection closed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

log = logging.getLogger("logitserve.connections")

REASONS = {
    408: b"Request Timeout",
    413: b"Content Too Large",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


@dataclass
class ConnectionLimits:
    max_header_bytes: int = 16384
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_body_bytes: int = 32 * 1024 * 1024
    max_connections: int = 1024
    max_receiving: int = 64
    max_buffered_bytes: int = 256 * 1024 * 1024
    # Shared by the connections of one server: those whose body is arriving, and the body
    # bytes held by requests not yet answered.
    receiving: set[Any] = field(default_factory=set, compare=False, repr=False)
    buffered: int = field(default=0, compare=False, repr=False)

    def protocol(self) -> functools.partial[BoundedHttpToolsProtocol]:
        """What uvicorn's `http=` option takes: a protocol factory with these limits."""
        return functools.partial(BoundedHttpToolsProtocol, limits=self)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._awaiting_headers = True
        self._header_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._body_bytes = 0  # of the request being read
        self._held = 0  # body bytes this connection counts in limits.buffered
        self._deferred: tuple[RequestResponseCycle, Any] | None = None

    # -- the transport ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            log.warning("connection refused: too many open", extra={"open": len(self.connections)})
            self._refused = True
            transport.close()
            return
        self._arm(self._limits.header_timeout_s, "the request headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._limits.receiving.discard(self)
        self._release()
        self._deferred = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if not self._awaiting_headers:
            super().data_received(data)
            return
        self._header_bytes += len(data)
        super().data_received(data)
        limit = self._limits.max_header_bytes
        if self._awaiting_headers and self._header_bytes > limit and not self._refused:
            self._refuse(431, f"request headers larger than the limit of {limit} bytes")

    # -- the parser's callbacks ------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers = True
        if self._timer is None:  # a keep-alive connection's next request
            self._arm(self._limits.header_timeout_s, "the request headers")

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._header_bytes = 0
        self._body_bytes = 0
        self._disarm()
        declared = self._body_declared()
        if declared is not None:
            refusal = self._admit_body(declared)
            if refusal is not None:
                self._refuse(*refusal)
                return
            self._limits.receiving.add(self)
            self._arm(self._limits.body_timeout_s, "the request body")
        super().on_headers_complete()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if self in self._limits.receiving and cycle is self.cycle:
            # The app starts when the body is whole (on_message_complete).
            self._deferred = (cycle, app)
            if cycle.waiting_for_100_continue:  # the client waits for this before its body
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                cycle.waiting_for_100_continue = False
            return
        super()._start_asgi_task(cycle, app)

    def on_body(self, body: bytes) -> None:
        if self._refused or self.cycle.response_complete:
            return
        self._body_bytes += len(body)
        if self._body_bytes > self._limits.max_body_bytes:
            limit = self._limits.max_body_bytes
            self._refuse(413, f"request body larger than the limit of {limit} bytes")
            return
        # A chunked body holds its bytes as they come (a declared one held them up front).
        if self._body_bytes > self._held and not self._hold(self._body_bytes - self._held):
            self._refuse(503, "the server holds too many request bodies; retry shortly")
            return
        if self._deferred is None:
            super().on_body(body)  # the app reads as it comes (and pauses us when behind)
            return
        self.cycle.body += body  # buffered whole: nobody reads before the end

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._limits.receiving.discard(self)
        self._disarm()
        super().on_message_complete()
        if self._deferred is not None:
            cycle, app = self._deferred
            self._deferred = None
            super()._start_asgi_task(cycle, app)

    def on_response_complete(self) -> None:
        self._release()
        super().on_response_complete()

    # -- the limits ------------------------------------------------------------------------
    def _body_declared(self) -> int | None:
        """The body's declared size (0 for chunked), or None when there is no body."""
        for name, value in self.headers:
            if name == b"content-length":
                size = value.strip()
                return int(size) if size.isdigit() and int(size) > 0 else None
            if name == b"transfer-encoding":
                return 0
        return None

    def _admit_body(self, declared: int) -> tuple[int, str] | None:
        limits = self._limits
        if declared > limits.max_body_bytes:
            return 413, f"request body larger than the limit of {limits.max_body_bytes} bytes"
        if len(limits.receiving) >= limits.max_receiving:
            return 503, "too many requests are sending their bodies; retry shortly"
        if not self._hold(declared):
            return 503, "the server holds too many request bodies; retry shortly"
        return None

    def _hold(self, size: int) -> bool:
        if self._limits.buffered + size > self._limits.max_buffered_bytes:
            return False
        self._limits.buffered += size
        self._held += size
        return True

    def _release(self) -> None:
        self._limits.buffered -= self._held
        self._held = 0

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired, seconds, what)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, seconds: float, what: str) -> None:
        self._timer = None
        self._refuse(408, f"{what} did not arrive within {seconds:g} s")

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` unless a response has begun, and close the connection."""
        self._refused = True
        self._disarm()
        self._limits.receiving.discard(self)
        self._deferred = None
        log.info("connection closed", extra={"status": status, "reason": message})
        if self.transport is None or self.transport.is_closing():
            return
        cycle = self.cycle
        answering = cycle is not None and cycle.response_started and not cycle.response_complete
        if not answering:
            body = orjson.dumps({"error": message})
            head = b"HTTP/1.1 %d %s\r\n" % (status, REASONS[status])
            head += b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body)
            if status == 503:
                head += b"retry-after: 1\r\n"
            self.transport.write(head + b"connection: close\r\n\r\n" + body)
            if cycle is not None:  # the app, if it answers late, writes nothing
                cycle.response_started = cycle.response_complete = True
        self.transport.close()
