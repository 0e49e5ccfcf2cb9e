"""When to try a request again: on 503 (the server is at its limit of requests in flight, or
the model is loading), after the delay the server asks for in `Retry-After`, else after a
growing pause; on 429 only when the server says when (this client has too many bodies
arriving at once: it asks for Retry-After), as urllib3's Retry does. Predictions change
nothing on the server, so sending one twice is safe."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` more attempts after the first; a server's Retry-After is honoured up to
    `max_wait` seconds (a longer one is not retried: the error says how long to wait)."""

    retries: int = 3
    backoff: float = 0.5
    max_wait: float = 30.0

    def delay(self, attempt: int, response: httpx.Response) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None: do not retry this one."""
        if response.status_code not in (429, 503) or attempt >= self.retries:
            return None
        asked = retry_after(response)
        if asked is None:
            if response.status_code == 429:  # without a time, a refusal stands
                return None
            return min(self.backoff * 2**attempt, self.max_wait)
        return asked if asked <= self.max_wait else None


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3); None if absent
    or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())
