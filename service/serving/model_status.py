"""The state of each model and each of its versions, as a snapshot holds it: immutable, built
whole by a refresh (reconcile.py), read by requests, metadata and readiness."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from modelrepo.control_state import ControlState
from modelrepo.manifest import Manifest
from modelrepo.routing import Plan, Route
from modelrepo.serving_config import ServingConfig
from service.runtime.loaded_model import LoadedModel

State = Literal["ready", "failed", "unloaded", "loading"]


@dataclass(frozen=True)
class VersionStatus:
    version: int
    state: State
    reason: str | None = None
    model: LoadedModel | None = None
    fingerprint: tuple[int, ...] | None = None
    # Files on disk that replaced a serving version's and failed to load.
    refused: tuple[int, ...] | None = None
    failures: int = 0  # failed loads of the same files in a row
    retry_at: float | None = None  # when they are tried again (monotonic clock)
    gone_since: float | None = None  # its folder disappeared; serving on during the grace
    manifest: Manifest | None = None  # read for the promotion gate when not loaded


@dataclass(frozen=True)
class ModelStatus:
    name: str
    versions: Mapping[int, VersionStatus] = field(default_factory=dict)
    ignored: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    unloaded: bool = False  # through the repository API or CLI (control.json)
    gone_since: float | None = None  # its folder disappeared; serving on during the grace
    config: ServingConfig | None = None  # serving.json, if any
    control: ControlState = field(default_factory=ControlState)
    plan: Plan | None = None  # None: no routing decided (the highest ready version serves)
    route: Route | None = None

    @cached_property
    def serving(self) -> LoadedModel | None:
        """What a request without a version gets (but for a canary's share)."""
        if self.route is None:
            for version in sorted(self.versions, reverse=True):
                if self.versions[version].model is not None:
                    return self.versions[version].model
            return None
        entry = self.versions.get(self.route.default) if self.route.default else None
        return entry.model if entry is not None else None

    @cached_property
    def canary(self) -> tuple[LoadedModel, float] | None:
        """The canary version and its share of requests without a version, if any."""
        if self.route is None or self.route.canary is None:
            return None
        entry = self.versions.get(self.route.canary)
        if entry is None or entry.model is None:
            return None
        return entry.model, self.route.share

    @property
    def ready(self) -> bool:
        return self.serving is not None

    @property
    def reason(self) -> str | None:
        """Why the model is not ready, or None when it is."""
        if self.ready:
            return None
        if self.unloaded:
            return "unloaded through the repository API"
        if self.error:
            return self.error
        if self.route is not None and any(v.model for v in self.versions.values()):
            return f"no version may answer requests without a version: {self.route.why}"
        failures = [
            f"version {v}: {s.reason}" for v, s in sorted(self.versions.items()) if s.reason
        ]
        return "; ".join(failures) if failures else "no version folders"

    def role(self, version: int) -> str | None:
        """default | canary | candidate | promoted | older, or None for a version that is
        not loaded."""
        entry = self.versions.get(version)
        if entry is None or entry.model is None:
            return None
        if self.serving is entry.model:
            return "default"
        if self.canary is not None and self.canary[0] is entry.model:
            return "canary"
        return self.plan.roles.get(version, "older") if self.plan is not None else "older"

    def why(self, version: int) -> str | None:
        """Why the version has its role (the gate's verdict, a pin, a default)."""
        if self.route is not None and version == self.route.default:
            return self.route.why
        return self.plan.reasons.get(version) if self.plan is not None else None
