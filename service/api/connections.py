"""HTTP/1.1 connections with bounds on what one client can hold: the size and time of its
headers, the time, pace and size of its body, how many connections are open, how many are
still sending a body (receiving.py: a total, each client's share), and how many body bytes
all requests hold together.

The app never sees a client that has not finished its headers, so these limits live in the
protocol: uvicorn's httptools protocol parses, and this subclass keeps the clocks and counts.
A request reaches the app only once its body has arrived whole, so a slow or stalled upload
holds a connection, never a place among the requests in flight (`--max-inflight`). A client
past a limit gets a short JSON error (408, 413, 429, 431 or 503) and its connection closed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from service.api.one_send import HeadWithBody
from service.api.receiving import Receiving

log = logging.getLogger("logitserve.connections")

REASONS = {
    408: b"Request Timeout",
    413: b"Content Too Large",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}
# How often an arriving body's pace is checked once its grace is over.
PACE_CHECK_S = 1.0
# A body whole this soon after its headers never counts as arriving: clients write the
# headers and the body of a small request one after the other, which may take two reads.
SETTLE_S = 0.05


@dataclass
class ConnectionLimits:
    max_header_bytes: int = 16384
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_body_bytes: int = 32 * 1024 * 1024
    max_connections: int = 1024
    max_buffered_bytes: int = 256 * 1024 * 1024
    # Shared by the connections of one server: those whose body is arriving, and the body
    # bytes held by requests not yet answered.
    receiving: Receiving = field(default_factory=Receiving)
    buffered: int = field(default=0, compare=False, repr=False)
    # Set when the server begins to shut down (server.py): see BoundedHttpToolsProtocol.drain.
    draining: bool = field(default=False, compare=False, repr=False)

    def protocol(self) -> functools.partial[BoundedHttpToolsProtocol]:
        """What uvicorn's `http=` option takes: a protocol factory with these limits."""
        return functools.partial(BoundedHttpToolsProtocol, limits=self)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._awaiting_headers = True
        self._header_bytes = 0  # as read, while headers are awaited
        self._parsed_header_bytes = 0  # the request line and headers, as parsed
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._body_bytes = 0  # of the request being read
        self._body_expected = False  # declared, and not whole yet
        self._settling = False  # a moment before a body not whole counts as arriving
        self._body_declared_bytes = 0  # Content-Length (0 for chunked)
        self._body_started = 0.0
        self._body_deadline = 0.0
        self._held = 0  # body bytes this connection counts in limits.buffered
        self._deferred: tuple[RequestResponseCycle, Any] | None = None
        self._opened_draining = limits.draining  # opened once the server began to stop

    # -- the transport ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            log.warning("connection refused: too many open", extra={"open": len(self.connections)})
            self._refused = True
            transport.close()
            return
        self._arm(self._limits.header_timeout_s, "the request headers")

    def drain(self) -> None:
        """The server is stopping: this connection's request, and any that comes on it while
        the port stays open, is answered with Connection: close instead of meeting a closed
        connection; server.py closes what is still idle once the drain is over."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._limits.receiving.release(self)
        self._release()
        self._deferred = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        counting = self._awaiting_headers
        if counting:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._refused:
            return
        limit = self._limits.max_header_bytes
        if counting and self._awaiting_headers and self._header_bytes > limit:
            # Headers still unfinished: an endless header line never reaches a callback.
            self._refuse(431, f"request headers larger than the limit of {limit} bytes")
        elif self._body_expected and not self._settling and self not in self._limits.receiving:
            # The parser has had all this read holds, and the body is not whole: it counts
            # as arriving unless it is whole within a moment (a client's next write), or
            # at once if the client waits for 100 Continue before sending it.
            if self.cycle.waiting_for_100_continue:
                self._admit_arriving_body()
            else:
                self._settling = True
                self._timer = self.loop.call_later(SETTLE_S, self._admit_arriving_body)

    # -- the parser's callbacks ------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        self._awaiting_headers = True
        self._parsed_header_bytes = 0
        if self._timer is None:  # a keep-alive connection's next request
            self._arm(self._limits.header_timeout_s, "the request headers")

    def on_url(self, url: bytes) -> None:
        if self._count_header_bytes(len(url)):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._count_header_bytes(len(name) + len(value) + 4):  # ": " and CRLF
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._awaiting_headers = False
        self._header_bytes = 0
        self._body_bytes = 0
        self._disarm()
        declared = self._body_declared()
        if declared is not None:
            if declared > self._limits.max_body_bytes:
                limit = self._limits.max_body_bytes
                self._refuse(413, f"request body larger than the limit of {limit} bytes")
                return
            self._body_expected = True
            self._body_declared_bytes = declared
            self._body_started = self.loop.time()
            self._body_deadline = self._body_started + self._limits.body_timeout_s
        super().on_headers_complete()
        if self._limits.draining and self.cycle is not None:
            self.cycle.keep_alive = False

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if self._body_expected and cycle is self.cycle:
            self._deferred = (cycle, app)  # the app starts when the body is whole
            return
        self._begin(cycle, app)

    def _begin(self, cycle: RequestResponseCycle, app: Any) -> None:
        if self._opened_draining:
            # A connection opened while the server stops: answered, not served, so that the
            # client goes to another replica (its body, if any, has been read: no reset).
            self._refuse(503, "the server is shutting down; retry shortly")
            return
        cycle.transport = HeadWithBody(self.transport, self.loop)  # type: ignore[assignment]
        super()._start_asgi_task(cycle, app)

    def on_body(self, body: bytes) -> None:
        if self._refused or self.cycle.response_complete:
            return
        self._body_bytes += len(body)
        if self._body_bytes > self._limits.max_body_bytes:
            limit = self._limits.max_body_bytes
            self._refuse(413, f"request body larger than the limit of {limit} bytes")
            return
        # Bytes are held as they come: all bodies together stay under max_buffered_bytes.
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
        self._body_expected = self._settling = False
        self._limits.receiving.release(self)
        self._disarm()
        super().on_message_complete()
        if self._deferred is not None:
            cycle, app = self._deferred
            self._deferred = None
            self._begin(cycle, app)

    def on_response_complete(self) -> None:
        self._release()
        super().on_response_complete()

    # -- the limits ------------------------------------------------------------------------
    def _count_header_bytes(self, size: int) -> bool:
        """Count parsed header bytes: headers that came in one read are counted too."""
        if self._refused:
            return False
        self._parsed_header_bytes += size
        limit = self._limits.max_header_bytes
        if self._parsed_header_bytes > limit:
            self._refuse(431, f"request headers larger than the limit of {limit} bytes")
            return False
        return True

    def _body_declared(self) -> int | None:
        """The body's declared size (0 for chunked), or None when there is no body."""
        for name, value in self.headers:
            if name == b"content-length":
                size = value.strip()
                return int(size) if size.isdigit() and int(size) > 0 else None
            if name == b"transfer-encoding":
                return 0
        return None

    def _admit_arriving_body(self) -> None:
        self._timer = None
        self._settling = False
        refusal = self._limits.receiving.admit(self, self.client[0] if self.client else None)
        if refusal is not None:
            self._refuse(*refusal)
            return
        # A declared body holds its bytes from now on (a chunked one holds them as they come).
        if self._body_declared_bytes > self._held and not self._hold(
            self._body_declared_bytes - self._held
        ):
            self._refuse(503, "the server holds too many request bodies; retry shortly")
            return
        cycle = self.cycle
        if cycle.waiting_for_100_continue:  # the client waits for this before its body
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        self._timer = self.loop.call_at(self._next_pace_check(), self._check_body)

    def _next_pace_check(self) -> float:
        receiving = self._limits.receiving
        now = self.loop.time()
        first = self._body_started + receiving.grace_s
        return min(max(first, now + PACE_CHECK_S), self._body_deadline)

    def _check_body(self) -> None:
        self._timer = None
        now = self.loop.time()
        if now >= self._body_deadline:
            seconds = self._limits.body_timeout_s
            self._refuse(408, f"the request body did not arrive within {seconds:g} s")
            return
        slow = self._limits.receiving.too_slow(self._body_bytes, now - self._body_started)
        if slow is not None:
            self._refuse(408, slow)
            return
        self._timer = self.loop.call_at(self._next_pace_check(), self._check_body)

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
        self._body_expected = self._settling = False
        self._disarm()
        self._limits.receiving.release(self)
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
            if status in (429, 503):
                head += b"retry-after: 1\r\n"
            self.transport.write(head + b"connection: close\r\n\r\n" + body)
            if cycle is not None:  # the app, if it answers late, writes nothing
                cycle.response_started = cycle.response_complete = True
        self.transport.close()
