"""Triton's model repository extension without a transport: loading and unloading a model
by name. HTTP (api/repository_control.py) and gRPC call these, behind the control token
(edge/credentials.py). Models load from the repository by name only: no configuration, files
or URLs from the client.
"""

from __future__ import annotations

from service.errors import InvalidInput
from service.repository.folders import check_name
from service.serving.registry import Registry


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
