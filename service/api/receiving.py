"""Request bodies still arriving: which connections may be sending one at once, and how fast.

A body that arrives whole with its headers, or a moment after them (connections.py,
SETTLE_S), never counts here: the small JSON prediction is read before anyone else can
compete with it. A body still on its way takes a place among `max_receiving`. Each client
address is sure of `max_per_client` of them, and may borrow more only while at least half
the places are free: one client's stalled uploads, however many it opens, leave the others
half the places, while a busy client alone on an idle server (fifty concurrent predictions,
bodies written a moment after their headers) is not refused for want of competitors. Once
admitted, a body must keep coming: past a grace period it must have averaged `min_rate`
bytes a second (Kestrel's MinRequestBodyDataRate: 240 bytes/s after 5 s), or its connection
is closed long before the body deadline.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Receiving:
    max_receiving: int = 64
    max_per_client: int = 16  # 0: no share, only the total
    min_rate: int = 240  # bytes a second, averaged from the start of the body (0: none)
    grace_s: float = 5.0
    _senders: set[object] = field(default_factory=set, repr=False)
    _per_client: Counter[str] = field(default_factory=Counter, repr=False)
    _client_of: dict[object, str] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self._senders)

    def __contains__(self, sender: object) -> bool:
        return sender in self._senders

    def admit(self, sender: object, client: str | None) -> tuple[int, str] | None:
        """Take a place for `sender`'s body, or (status, reason) when there is none."""
        if len(self._senders) >= self.max_receiving:
            return 503, "too many requests are sending their bodies; retry shortly"
        key = client or ""
        if (
            self.max_per_client
            and self._per_client[key] >= self.max_per_client
            and len(self._senders) >= self.max_receiving // 2
        ):
            return 429, (
                f"this client already has {self._per_client[key]} request bodies arriving "
                f"(its share is {self.max_per_client}); retry when one has arrived"
            )
        self._senders.add(sender)
        self._per_client[key] += 1
        self._client_of[sender] = key
        return None

    def release(self, sender: object) -> None:
        if sender not in self._senders:
            return
        self._senders.discard(sender)
        key = self._client_of.pop(sender)
        self._per_client[key] -= 1
        if not self._per_client[key]:
            del self._per_client[key]

    def too_slow(self, received: int, elapsed_s: float) -> str | None:
        """Why a body that has sent `received` bytes in `elapsed_s` seconds is too slow."""
        if not self.min_rate or elapsed_s < self.grace_s:
            return None
        if received >= self.min_rate * elapsed_s:
            return None
        return (
            f"the request body arrived slower than {self.min_rate} bytes/s "
            f"({received} bytes in {elapsed_s:.0f} s)"
        )
