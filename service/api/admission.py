"""What may come in, decided before any work: each refusal on its own, and each returns the
error to answer with, or None.

In the gateway's order: the in-flight limit (503 with Retry-After; health and metrics are
neither counted nor refused), credentials in the query string (they end up in logs), the
declared body size (the body's real size is checked while it is read), and API keys on the
prediction routes when keys are configured."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.types import Message, Receive

from service.errors import InvalidInput, Overloaded, PayloadTooLarge, Unauthorized
from service.inflight import InFlight

# Never counted in flight, never refused for it: health and metrics must answer under load.
EXEMPT = frozenset({"/v2/health/live", "/v2/health/ready", "/metrics"})
CREDENTIAL_PARAMS = frozenset(
    {"token", "access_token", "api_key", "apikey", "api-key", "key", "password", "auth"}
)


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


def query_credentials(query: bytes) -> InvalidInput | None:
    names = {k.lower() for k, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)}
    if names & CREDENTIAL_PARAMS:
        return InvalidInput(
            "credentials in the query string are refused (they end up in logs): "
            "send them in the Authorization header"
        )
    return None


class BodyLimit:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"request body larger than the limit of {self.max_bytes} bytes")

    def refusal(self, content_length: bytes | None) -> PayloadTooLarge | None:
        """From the Content-Length header, before reading anything."""
        declared = content_length
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return self._too_large()
        return None

    def limited(self, receive: Receive) -> Receive:
        """`receive` stopped at the limit, for routes that read bodies themselves (multipart)."""
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        return limited


class ApiKeys:
    """A key as `Authorization: Bearer ...` or `X-API-Key`, compared in constant time."""

    def __init__(self, keys: list[str]) -> None:
        self._keys = [key.encode() for key in keys]

    def refusal(self, authorization: bytes | None, api_key: bytes | None) -> Unauthorized | None:
        given = api_key
        if given is None and authorization is not None and authorization[:7].lower() == b"bearer ":
            given = authorization[7:].strip()
        if given is not None and self._matches(given):
            return None
        return Unauthorized("this route needs an API key (Authorization: Bearer or X-API-Key)")

    def _matches(self, given: bytes) -> bool:
        # Compare with every key, without stopping early: timing says nothing of which matched.
        result = False
        for key in self._keys:
            result |= hmac.compare_digest(given, key)
        return result
