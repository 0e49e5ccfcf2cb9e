"""Credentials, for both transports: API keys on the calls that run a model, the control
token on the model repository's calls. Both compared in constant time, and each client
address's failures throttled (attempts.py): `Credentials` is the one object both ask."""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from service.edge.attempts import FailedAttempts
from service.errors import Forbidden, ServiceError, Unauthorized
from service.settings import Settings


class Credentials:
    """What a request presents, checked for the client address it comes from."""

    def __init__(self, settings: Settings) -> None:
        self.keyed = bool(settings.api_keys)  # whether the calls that run a model need a key
        self._keys = ApiKeys(settings.api_keys)
        self._control = ControlToken(settings.control_token)
        self._attempts = FailedAttempts(settings.auth_failures_per_minute)

    def key_refusal(
        self, client: str | None, authorization: bytes | None, api_key: bytes | None
    ) -> ServiceError | None:
        refusal: ServiceError | None = self._attempts.refusal(client)
        if refusal is None:
            refusal = self._keys.refusal(authorization, api_key)
            if refusal is not None:
                self._attempts.failed(client)
        return refusal

    def control_refusal(self, client: str | None, authorization: str | None) -> ServiceError | None:
        refusal = self._control.refusal(authorization)
        if not isinstance(refusal, Unauthorized) and refusal is not None:
            return refusal  # control is off: nothing to guess
        throttled = self._attempts.refusal(client)
        if throttled is not None:
            return throttled  # right or wrong, not compared
        if refusal is not None:
            self._attempts.failed(client)
        return refusal


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


class ControlToken:
    def __init__(self, token: SecretStr | None) -> None:
        self._expected = token.get_secret_value().encode() if token is not None else None

    def refusal(self, authorization: str | None) -> ServiceError | None:
        """For an `Authorization` header (or gRPC metadata) value, or None when absent."""
        if self._expected is None:
            return Forbidden("model control is off: set LOGITSERVE_CONTROL_TOKEN to enable it")
        given = _bearer(authorization)
        if given is None or not hmac.compare_digest(given.encode(), self._expected):
            return Unauthorized(
                "model control needs the control token as 'Authorization: Bearer ...'"
            )
        return None


def _bearer(value: str | None) -> str | None:
    scheme, _, token = (value or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
