"""Which versions of a model load, which one answers requests without a version, and why:
pure functions of the versions on disk, their manifests, the serving config and the control
state, so every worker and every replica decides the same.

The promotion gate walks the versions in order from a baseline (the version promoted by hand,
else the first): a newer version takes over when its metric is at least the current one's
minus the tolerance, and is a *candidate* otherwise: loaded and addressable by version, never
the default by itself. The last version that took over serves, unless a version is pinned or
the config names a default. Without a gate every version takes over: the highest serves.

Part of the contract because both halves must decide alike: the service routes its requests
by it (service/serving/reconcile.py), training says which version serves after it publishes
(training/serving_now.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from modelrepo.control_state import ControlState
from modelrepo.manifest import Manifest
from modelrepo.serving_config import Gate, ServingConfig


@dataclass(frozen=True)
class Plan:
    chain: tuple[int, ...]  # versions that took over, in order: the last one serves
    roles: Mapping[int, str]  # version -> "promoted" (the chain's head) | "candidate" | "older"
    reasons: Mapping[int, str]  # version -> why it has its role
    load: frozenset[int]  # versions to load
    outside: Mapping[int, str] = field(default_factory=dict)  # not loaded, and why


@dataclass(frozen=True)
class Route:
    default: int | None  # the version answering requests without one
    why: str
    canary: int | None = None
    share: float = 0.0  # of requests without a version, 0..1

    def describe(self) -> str:
        """In words, for people: which version serves and why, and the canary."""
        if self.default is None:
            return f"no version serves ({self.why})"
        said = f"version {self.default} serves ({self.why})"
        if self.canary is not None:
            said += f"; version {self.canary} answers {self.share * 100:g}% of requests "
            said += "without a version (canary)"
        return said


def plan(
    numbers: Iterable[int],
    manifests: Mapping[int, Manifest | None],
    config: ServingConfig | None,
    control: ControlState,
    keep: Iterable[int] = (),
) -> Plan:
    """`keep`: versions to load whatever the policy (the one serving now, until another one
    serves in its place)."""
    versions = sorted(numbers)
    gate = config.gate if config is not None else None
    start = control.promoted if control.promoted in versions else None
    roles: dict[int, str] = {}
    reasons: dict[int, str] = {}
    chain: list[int] = []
    for v in versions:
        if start is not None and v < start:
            roles[v], reasons[v] = "older", f"older than version {start}, promoted by hand"
            continue
        if not chain:
            why = "promoted by hand" if v == start else "the first version"
            chain.append(v)
            roles[v], reasons[v] = "promoted", why
            continue
        passed, why = passes(gate, v, manifests.get(v), chain[-1], manifests.get(chain[-1]))
        reasons[v] = why
        if passed:
            roles[chain[-1]] = "older"
            chain.append(v)
            roles[v] = "promoted"
        else:
            roles[v] = "candidate"
    if config is None:
        return Plan(tuple(chain), roles, reasons, frozenset(versions))
    policy = config.version_policy
    if policy.latest is not None:
        wanted = set(versions[-policy.latest.num_versions :])
    elif policy.specific is not None:
        wanted = set(policy.specific.versions)
    else:
        wanted = set(versions)
    anchors = {chain[-1]} if chain else set()
    anchors |= {v for v in (control.pinned, config.default) if v is not None}
    if control.canary is not None:
        anchors.add(control.canary.version)
    load = frozenset(v for v in versions if v in wanted | anchors | set(keep))
    outside = {
        v: f"not loaded: outside the version policy ({policy.describe()})"
        for v in versions
        if v not in load
    }
    return Plan(tuple(chain), roles, reasons, load, outside)


def passes(
    gate: Gate | None, version: int, new: Manifest | None, current: int, old: Manifest | None
) -> tuple[bool, str]:
    """Whether `version` takes over from `current`, and why, in words."""
    if gate is None:
        return True, "no promotion gate"
    name = gate.metric
    value = new.metrics.get(name) if new is not None else None
    if value is None:
        return False, f"no {name} in its manifest to pass the gate with"
    baseline = old.metrics.get(name) if old is not None else None
    if baseline is None:
        return True, f"version {current} has no {name} to compare with"
    if gate.higher_is_better:
        ok = value >= baseline - gate.tolerance
        words = f"{value:.4g} {'>=' if ok else '<'} {baseline:.4g} - {gate.tolerance:g}"
    else:
        ok = value <= baseline + gate.tolerance
        words = f"{value:.4g} {'<=' if ok else '>'} {baseline:.4g} + {gate.tolerance:g}"
    return ok, f"{name} {words} (version {current})"


def route(
    ready: set[int],
    plan: Plan,
    config: ServingConfig | None,
    control: ControlState,
    previous: int | None = None,
) -> Route:
    """The default version among the ready ones, and the canary's share of the rest.
    `previous`: the version that served before, kept while the chain's head cannot load."""
    default, why = None, "no version is ready"
    if control.pinned in ready:
        default, why = control.pinned, "pinned"
    elif config is not None and config.default in ready:
        default, why = config.default, "the serving config's default"
    else:
        for v in reversed(plan.chain):
            if v in ready:
                default, why = v, plan.reasons.get(v, "")
                break
        if default is None and previous in ready:
            default, why = previous, "serving on: the versions after it do not load"
    canary = control.canary
    if canary is None or canary.version not in ready or canary.version == default:
        return Route(default, why)
    return Route(default, why, canary.version, canary.weight / 100)
