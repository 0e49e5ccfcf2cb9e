"""What HTTP refuses before any work, besides the in-flight limit and credentials
(edge/): credentials in the query string (they end up in logs), and a body larger than the
limit, by its declared size and while it is read.

In the gateway's order: the in-flight limit (503 with Retry-After; health and metrics are
neither counted nor refused), credentials in the query string, the declared body size (the
body's real size is checked while it is read), and API keys on the prediction routes when
keys are configured."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import Message, Receive

from service.errors import InvalidInput, PayloadTooLarge

# Never counted in flight, never refused for it: health and metrics must answer under load.
EXEMPT = frozenset({"/v2/health/live", "/v2/health/ready", "/metrics"})
CREDENTIAL_PARAMS = frozenset(
    {"token", "access_token", "api_key", "apikey", "api-key", "key", "password", "auth"}
)


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
