"""What serves after a publish, said in one line: "mnist 2 (accuracy 0.846) is a candidate; 1
(0.956) keeps serving", or "mnist 2 (accuracy 0.962) now serves".

Decided the way the service decides it: the contract's rule (``modelrepo.routing``) on what the
repository holds - the versions, their manifests, ``serving.json`` (version policy, default,
promotion gate) and ``control.json`` (promoted, pinned) - once without the new version (what
served before) and once with it. It assumes every version the policy loads is ready, which a
server that finds a version broken would not; that server says so in its own status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from modelrepo import control_state, documents, routing, serving_config
from modelrepo.manifest import Manifest
from modelrepo.names import CONTROL_FILE, MANIFEST_FILE, SERVING_FILE, is_version

MAX_MANIFEST_BYTES = 1 << 20
T = TypeVar("T")


@dataclass(frozen=True)
class ServingNow:
    name: str
    version: int  # the one just published
    serving: int | None  # the version answering requests without one, now
    before: int | None  # ... and before it was published
    role: str  # "serves", "candidate", "loaded" (not the default), "not loaded"
    why: str
    metric: str | None
    values: dict[int, float | None]
    problem: str | None = None  # a serving.json the service cannot read

    def line(self) -> str:
        new = f"{self.name} {self.version} ({self._figure(self.version, named=True)})"
        if self.problem is not None:
            return f"{new} is published, but {self.problem}"
        if self.role == "serves":
            return f"{new} now serves"
        kept = (
            f"{self.serving} ({self._figure(self.serving)}) keeps serving"
            if self.serving is not None
            else "no version serves"
        )
        if self.role == "candidate":
            return f"{new} is a candidate; {kept}"
        if self.role == "loaded":
            return f"{new} is loaded, but {kept}: {self.why}"
        return f"{new} is {self.why}; {kept}"

    def _figure(self, version: int, named: bool = False) -> str:
        value = self.values.get(version)
        shown = f"{value:.3f}" if value is not None else "n/a"
        return f"{self.metric} {shown}" if named and self.metric else shown


def serving_now(models_dir: Path, name: str, version: int) -> ServingNow:
    folder = models_dir / name
    numbers = sorted(int(p.name) for p in folder.iterdir() if is_version(p.name) and p.is_dir())
    manifests = {n: _manifest(folder / str(n)) for n in numbers}
    problem = None
    try:
        config = _read(folder / SERVING_FILE, serving_config.parse)
    except ValueError as error:
        # The service keeps the last config it could read (none: the model does not load).
        config, problem = None, f"{folder / SERVING_FILE} is not valid ({error}): fix it"
    try:
        control = _read(folder / CONTROL_FILE, control_state.parse)
    except ValueError:
        control = None  # the control API replaces a broken one whole
    control = control or control_state.ControlState()
    earlier = [n for n in numbers if n != version]
    before_plan = routing.plan(earlier, manifests, config, control)
    before = routing.route(set(before_plan.load), before_plan, config, control).default
    plan = routing.plan(numbers, manifests, config, control, keep={before} if before else ())
    route = routing.route(set(plan.load), plan, config, control, before)
    metric = config.gate.metric if config is not None and config.gate is not None else None
    if metric is None:
        new = manifests.get(version)
        primary = new.primary if new is not None else None
        metric = primary[0] if primary is not None else None
    values = {
        n: (m.metrics.get(metric) if m is not None and metric is not None else None)
        for n, m in manifests.items()
    }
    role, why = _role(version, plan, route)
    return ServingNow(name, version, route.default, before, role, why, metric, values, problem)


def _role(version: int, plan: routing.Plan, route: routing.Route) -> tuple[str, str]:
    if route.default == version:
        return "serves", route.why
    if version not in plan.load:
        return "not loaded", plan.outside.get(version, "not loaded")
    if plan.roles.get(version) == "candidate":
        return "candidate", plan.reasons.get(version, "")
    return "loaded", route.why


def _manifest(folder: Path) -> Manifest | None:
    """The version's manifest as the service validates it; None where it would not load."""
    try:
        path = folder / MANIFEST_FILE
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            return None
        return documents.parse(Manifest, path.read_bytes(), MANIFEST_FILE)
    except (OSError, ValueError):
        return None


def _read(path: Path, parse: Callable[[bytes], T]) -> T | None:
    """The parsed file, None without one (or unreadable); ValueError when it does not parse."""
    try:
        raw = path.read_bytes() if path.is_file() else None
    except OSError:
        return None
    return parse(raw) if raw is not None else None
