"""The routing rule is written twice until the service imports the contract's: the service's
(`service/serving/routing_policy.py`) and the contract's (`modelrepo/routing.py`, which training
uses to say what serves after a publish). Both must decide alike on every case."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from modelrepo import routing
from modelrepo.control_state import Canary, ControlState
from modelrepo.manifest import Manifest
from modelrepo.serving_config import All, Gate, Latest, ServingConfig, Specific, VersionPolicy
from service.serving import routing_policy

VERSIONS = st.lists(st.integers(1, 8), unique=True, max_size=6)
ACCURACY = st.one_of(st.none(), st.sampled_from([0.90, 0.95, 0.99]))


def manifest(version: int, accuracy: float | None) -> Manifest:
    return Manifest.model_validate(
        {
            "format": 1, "name": "m", "version": version, "task": "binary", "labels": ["a", "b"],
            "input": {"name": "x", "datatype": "FP32", "shape": [-1, 1], "kind": "tabular",
                      "features": [{"name": "f"}]},
            "output": {"name": "y", "datatype": "FP32", "shape": [-1, 1],
                       "activation": "sigmoid"},
            "metrics": {} if accuracy is None else {"accuracy": accuracy},
            "model_sha256": "0" * 64,
        }
    )  # fmt: skip


POLICIES = st.sampled_from(
    [
        VersionPolicy(latest=Latest()),
        VersionPolicy(latest=Latest(num_versions=2)),
        VersionPolicy(all=All()),
        VersionPolicy(specific=Specific(versions=[1, 3])),
    ]
)
GATES = st.one_of(
    st.none(),
    st.builds(
        Gate,
        metric=st.just("accuracy"),
        tolerance=st.sampled_from([0.0, 0.005]),
        higher_is_better=st.booleans(),
    ),
)
CONFIGS = st.one_of(
    st.none(),
    st.builds(
        ServingConfig,
        version_policy=POLICIES,
        default=st.one_of(st.none(), st.integers(1, 8)),
        gate=GATES,
    ),
)
MAYBE_VERSION = st.one_of(st.none(), st.integers(1, 8))
CONTROLS = st.builds(
    ControlState,
    promoted=MAYBE_VERSION,
    pinned=MAYBE_VERSION,
    canary=st.one_of(st.none(), st.builds(Canary, version=st.integers(1, 8), weight=st.just(10.0))),
)


EQUAL = [0.95] * 8
NO_TOLERANCE = ServingConfig(gate=Gate(metric="accuracy", tolerance=0.0))


@settings(max_examples=400, deadline=None)
# The edges random draws rarely hit: a metric exactly at the bar, a promoted baseline.
@example([1, 2], EQUAL, set(), NO_TOLERANCE, ControlState(), set(), {1, 2}, None)
@example([1, 2, 3], EQUAL, {2}, NO_TOLERANCE, ControlState(promoted=2), set(), {3}, 1)
@given(
    versions=VERSIONS,
    accuracies=st.lists(ACCURACY, min_size=8, max_size=8),
    broken=st.sets(st.integers(1, 8)),
    config=CONFIGS,
    control=CONTROLS,
    keep=st.sets(st.integers(1, 8), max_size=2),
    ready_share=st.sets(st.integers(1, 8)),
    previous=MAYBE_VERSION,
)
def test_the_contracts_rule_and_the_services_decide_alike(
    versions: list[int],
    accuracies: list[float | None],
    broken: set[int],
    config: ServingConfig | None,
    control: ControlState,
    keep: set[int],
    ready_share: set[int],
    previous: int | None,
) -> None:
    manifests = {v: None if v in broken else manifest(v, accuracies[v - 1]) for v in versions}
    ours = routing.plan(versions, manifests, config, control, keep)
    theirs = routing_policy.plan(versions, manifests, config, control, keep)
    assert (ours.chain, ours.roles, ours.reasons, ours.load, ours.outside) == (
        theirs.chain, theirs.roles, theirs.reasons, theirs.load, theirs.outside,
    )  # fmt: skip
    ready = set(ours.load) & ready_share
    # Two classes of the same shape: compared by their fields.
    assert vars(routing.route(ready, ours, config, control, previous)) == vars(
        routing_policy.route(ready, theirs, config, control, previous)
    )
