"""How many requests are in flight: counted by the gateway, read by whoever needs to know
(the in-flight limit, the batcher deciding whether a batch may wait for more, the gauge)."""

from __future__ import annotations


class InFlight:
    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1

    def current(self) -> int:
        return self.count

    def others(self) -> bool:
        """Whether anyone besides the caller's own request is in flight."""
        return self.count > 1
