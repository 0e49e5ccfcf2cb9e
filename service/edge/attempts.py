"""Failed credential attempts, per client address, for both transports: each address may fail
`per_minute` times a minute (a bucket that size, refilled at that pace); past it, its
requests that need a credential are refused with 429 (RESOURCE_EXHAUSTED over gRPC) before
the credential is even compared, right or wrong, until the bucket has refilled enough.

Before, a control token could be guessed at 700 tries a second on one HTTP connection and
1,060 over gRPC; at 30 a minute, a 16-character random token is out of reach. An IPv6 client
is counted by its /64 (one host usually holds the whole block). The table is bounded: past
`max_clients` addresses, those that have recovered go first, then the oldest.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable

from service.errors import TooManyAttempts


class FailedAttempts:
    def __init__(
        self,
        per_minute: int,
        max_clients: int = 65536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0  # a second
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # address: (tokens, when)

    def refusal(self, client: str | None) -> TooManyAttempts | None:
        """For a request about to present a credential: refused while its address has used
        up its failures. The usual case, an address that never failed, is one lookup."""
        key = _address(client)
        if key not in self._buckets:
            return None
        tokens = self._tokens(key)
        if tokens >= 1:
            return None
        wait = math.ceil((1 - tokens) / self._rate)
        return TooManyAttempts(
            f"too many failed attempts with credentials from this address; retry in {wait} s",
            retry_after_s=wait,
        )

    def failed(self, client: str | None) -> None:
        key = _address(client)
        tokens = self._tokens(key) - 1
        self._buckets.pop(key, None)  # re-inserted last: the table keeps its age order
        self._buckets[key] = (tokens, self._clock())
        if len(self._buckets) > self._max_clients:
            self._forget()

    def _tokens(self, key: str) -> float:
        tokens, when = self._buckets.get(key, (self._capacity, 0.0))
        return min(self._capacity, tokens + (self._clock() - when) * self._rate)

    def _forget(self) -> None:
        recovered = [key for key in self._buckets if self._tokens(key) >= self._capacity]
        for key in recovered:
            del self._buckets[key]
        while len(self._buckets) > self._max_clients:
            del self._buckets[next(iter(self._buckets))]


def _address(client: str | None) -> str:
    """The key an address is counted under: itself, or its /64 for IPv6."""
    if not client or ":" not in client:
        return client or ""
    try:
        address = ipaddress.IPv6Address(client.strip("[]"))
    except ValueError:
        return client
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))
