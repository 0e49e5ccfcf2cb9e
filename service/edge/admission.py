"""The in-flight limit, for both transports: a request counted past the limit is refused
with 503 (UNAVAILABLE over gRPC) and Retry-After, before any work."""

from __future__ import annotations

from collections.abc import Callable

from service.edge.inflight import InFlight
from service.errors import Overloaded


class InFlightLimit:
    def __init__(self, inflight: InFlight, limit: int, on_refusal: Callable[[], None]) -> None:
        self._inflight = inflight
        self._limit = limit
        self._on_refusal = on_refusal

    def refusal(self) -> Overloaded | None:
        """For a counted request, already counted."""
        if self._inflight.count <= self._limit:
            return None
        self._on_refusal()
        return Overloaded("the server is at its limit of requests in flight; retry shortly")
