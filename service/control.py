"""Triton's model repository extension without a transport: the control token, and loading
and unloading a model by name. HTTP (api/control.py) and gRPC call these.

Off unless a control token is configured; then every call needs it as a Bearer token,
compared in constant time. Models load from the repository by name only: no configuration,
files or URLs from the client.
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from service.errors import Forbidden, InvalidInput, ServiceError, Unauthorized
from service.registry import Registry
from service.repository import check_name


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


async def load(registry: Registry, name: str, has_parameters: bool) -> int | None:
    """Load (or reload) a model from the repository; the version now serving."""
    check_name(name)
    if has_parameters:
        raise InvalidInput("models load from the repository by name only: no config, files or URLs")
    status = await registry.load(name)  # recorded in control.json: every worker loads it
    if not status.ready:
        raise InvalidInput(f"failed to load model '{name}': {status.reason}")
    serving = status.serving
    return serving.version if serving else None


async def unload(registry: Registry, name: str) -> None:
    """Recorded in control.json, so every worker and replica unloads it (Forbidden where the
    repository cannot be written)."""
    check_name(name)
    await registry.unload(name)
