"""HTTP/1.1 connections with bounds on what one client can hold: the size and time of its
headers, the time of its body, how many connections are open and how many are still sending
a body.

The app never sees a client that has not finished its headers, so these limits live in the
protocol: uvicorn's httptools protocol parses, and this subclass keeps the clocks and counts.
A client past a limit gets a short JSON error (408, 431 or 503) and its connection closed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("logitserve.connections")

REASONS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


@dataclass
class ConnectionLimits:
    max_header_bytes: int = 16384
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 1024
    max_receiving: int = 64
    # Connections of this server whose request body is still arriving.
    receiving: set[Any] = field(default_factory=set, compare=False, repr=False)

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
        self._disarm()
        if self._has_body():
            if len(self._limits.receiving) >= self._limits.max_receiving:
                self._refuse(503, "too many requests are sending their bodies; retry shortly")
                return
            self._limits.receiving.add(self)
            self._arm(self._limits.body_timeout_s, "the request body")
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._limits.receiving.discard(self)
        self._disarm()
        super().on_message_complete()

    # -- the limits ------------------------------------------------------------------------
    def _has_body(self) -> bool:
        for name, value in self.headers:
            if name == b"content-length":
                return value.strip() not in (b"0", b"")
            if name == b"transfer-encoding":
                return True
        return False

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired, seconds, what)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, seconds: float, what: str) -> None:
        self._timer = None
        self._limits.receiving.discard(self)
        self._refuse(408, f"{what} did not arrive within {seconds:g} s")

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` unless a response has begun, and close the connection."""
        self._refused = True
        self._disarm()
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
