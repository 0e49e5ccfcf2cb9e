"""`logitserve list` (also `status`): what is served, for people at a shell. Each model with
its versions, their states, roles and held-out metrics, and which version answers requests
without a version, and why.

Two sources, and the listing says which it read:
- the repository on disk (the default): every version loaded as a server loads it (the same
  registry, ONNX Runtime sessions, promotion gate, pins and canaries), so a version that
  would fail is shown failed, with the reason. No server is needed; a running one applies
  changes at its next rescan (`--reload-interval-s`) and may differ until then.
- a running server (`--url`): what it serves now, from its `GET /v1/models`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelrepo.routing import Route

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Listing:
    source: str  # where it was read, in words
    models: list[dict[str, Any]]  # each as GET /v1/models/{name} answers


def from_disk(models_dir: Path, names: list[str] | None = None) -> Listing:
    """The models in `models_dir`, loaded as a server started now would load them."""
    # Imported here: `logitserve promote --help` and friends need none of ONNX Runtime.
    from service.core import Core
    from service.errors import ServiceError
    from service.handlers.listing import detail
    from service.settings import Settings

    # The registry's own log lines (a version held back, a version failing) are what the
    # listing says: only its errors are worth a line of their own here.
    logging.getLogger("logitserve").setLevel(logging.ERROR)
    core = Core(Settings(models_dir=models_dir, reload_interval_s=0, inference_threads=0))

    async def load() -> list[dict[str, Any]]:
        registry = core.registry
        try:
            wanted: list[str | None] = list(names) if names else [None]
            for name in wanted:
                await registry.refresh(only=name)
        except ServiceError as exc:  # a name that is no model, or is no name at all
            raise LookupError(exc.message) from None
        finally:
            await core.stop()
        if not names and registry.repository_error:
            raise OSError(f"{models_dir}: {registry.repository_error}")
        return [detail(registry.models[n]) for n in sorted(registry.models)]

    source = (
        f"the repository on disk at {models_dir}: every version loaded as a server loads it "
        "(a running server applies changes at its next rescan; --url URL asks one)"
    )
    return Listing(source, asyncio.run(load()))


def from_server(url: str, names: list[str] | None = None) -> Listing:
    """What the server at `url` serves now."""
    import httpx

    base = url.rstrip("/")
    try:
        with httpx.Client(base_url=base, timeout=TIMEOUT_S) as client:
            wanted = names or [m["name"] for m in _get(client, "/v1/models")["models"]]
            models = [_get(client, f"/v1/models/{name}") for name in wanted]
    except httpx.HTTPError as exc:
        raise OSError(f"cannot ask the server at {base}: {exc}") from None
    return Listing(f"the server at {base}: what it serves now", models)


def _get(client: Any, path: str) -> Any:
    answer = client.get(path)
    if answer.status_code != 200:
        try:
            said = answer.json()["error"]
        except (ValueError, KeyError, TypeError):
            said = answer.reason_phrase
        raise LookupError(f"GET {path}: {answer.status_code} {said}")
    return answer.json()


def serving_words(model: dict[str, Any]) -> str:
    """Which version answers requests without a version, and why, in words."""
    serving = model.get("serving") or {}
    canary = serving.get("canary") or {}
    route = Route(
        serving.get("default_version"),
        serving.get("why") or "",
        canary.get("version"),
        (canary.get("weight") or 0) / 100,
    )
    if route.default is None:
        return f"not ready: {model.get('reason') or route.why}"
    return route.describe()


def lines(listing: Listing) -> list[str]:
    """The listing as text, a model at a time, newest version first."""
    out = [f"from {listing.source}"]
    if not listing.models:
        out.append("no models")
    for model in listing.models:
        task = model.get("task") or "-"
        out.append("")
        out.append(f"{model['name']}  {task}  {serving_words(model)}")
        for version in model.get("versions", []):
            out.append("  " + _version_line(version))
        problem = (model.get("serving") or {}).get("problem")
        if problem:
            out.append(f"  ignored: {problem}")
        for folder, why in (model.get("ignored") or {}).items():
            out.append(f"  not a version: {folder}: {why}")
    return out


def _version_line(version: dict[str, Any]) -> str:
    role = version.get("role") or "-"
    metric = version.get("primary_metric")
    measured = ""
    if metric and metric.get("value") is not None:
        measured = f"{metric['split']} {metric['name']} {metric['value']:.4g}"
    why = version.get("reason") if version.get("state") != "ready" else version.get("role_reason")
    parts = [f"version {version['version']:<3}", f"{version.get('state', ''):<8}", f"{role:<9}"]
    parts += [f"{measured:<24}", why or ""]
    return "  ".join(parts).rstrip()
