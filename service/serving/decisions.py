"""Every decision about what serves, logged once with its reason when it changes: which
version answers requests without a version, which versions the promotion gate holds back
as candidates, canaries, models that stop serving. And the same as rows for the metrics."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from service.metrics.prometheus import RouteRow
from service.serving.model_status import ModelStatus

log = logging.getLogger("logitserve.registry")


def log_changes(old: Mapping[str, ModelStatus], new: Mapping[str, ModelStatus]) -> None:
    for name, status in new.items():
        before = old.get(name)
        if before is status:
            continue
        was = _default(before)
        now = _default(status)
        if now != was:
            why = status.route.why if status.route is not None else "the highest ready version"
            if now is None:
                log.warning(
                    "model not serving",
                    extra={"model": name, "was": was, "reason": status.reason},
                )
            else:
                log.info(
                    "default version",
                    extra={"model": name, "version": now, "was": was, "reason": why},
                )
        for version in status.versions:
            role = status.role(version)
            if role == "candidate" and (before is None or before.role(version) != role):
                log.warning(
                    "version held back as a candidate",
                    extra={"model": name, "version": version, "reason": status.why(version)},
                )
        canary = _canary(status)
        if canary != _canary(before):
            log.info(
                "canary",
                extra={
                    "model": name,
                    "version": canary[0] if canary else None,
                    "share": canary[1] if canary else 0,
                },
            )


def route_rows(models: Mapping[str, ModelStatus]) -> list[RouteRow]:
    rows: list[RouteRow] = []
    for name, status in models.items():
        roles = {v: role for v in status.versions if (role := status.role(v)) is not None}
        rows.append((name, status.serving is not None, roles, _canary(status)))
    return rows


def _default(status: ModelStatus | None) -> int | None:
    serving = status.serving if status is not None else None
    return serving.version if serving is not None else None


def _canary(status: ModelStatus | None) -> tuple[int, float] | None:
    canary = status.canary if status is not None else None
    return (canary[0].version, canary[1]) if canary is not None else None


def serving_summary(status: ModelStatus) -> dict[str, object]:
    """How a model is served, for metadata: its config, control state, and the decision."""
    config, control, route = status.config, status.control, status.route
    canary = _canary(status)
    return {
        "default_version": _default(status),
        "why": route.why if route is not None else "the highest ready version",
        "version_policy": config.version_policy.describe() if config else "all (no serving.json)",
        "configured_default": config.default if config else None,
        "gate": config.gate.model_dump() if config and config.gate else None,
        "promoted": control.promoted,
        "pinned": control.pinned,
        "canary": {"version": canary[0], "weight": round(canary[1] * 100, 3)} if canary else None,
        "last_action": control.last_action,
        "problem": status.error,
    }
