"""The line a run ends with: what serves once the new version is published, decided by the
contract's rule from the repository's files, as the service decides it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelrepo import control_state
from training.serving_now import serving_now


def publish(models: Path, version: int, accuracy: float | None) -> None:
    folder = models / "mnist" / str(version)
    folder.mkdir(parents=True)
    manifest = {
        "format": 1, "name": "mnist", "version": version, "task": "multiclass",
        "labels": [str(d) for d in range(10)],
        "input": {"name": "pixels", "datatype": "UINT8", "shape": [-1, 784], "kind": "image",
                  "image": {"height": 28, "width": 28}},
        "output": {"name": "logits", "datatype": "FP32", "shape": [-1, 10],
                   "activation": "softmax"},
        "metrics": {} if accuracy is None else {"accuracy": accuracy},
        "primary_metric": "accuracy", "model_sha256": "0" * 64,
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))


def serving(models: Path, config: dict) -> None:
    (models / "mnist" / "serving.json").write_text(json.dumps(config))


GATE = {"gate": {"metric": "accuracy", "tolerance": 0.005}}


@pytest.fixture
def models(tmp_path: Path) -> Path:
    publish(tmp_path, 1, 0.956)
    return tmp_path


def test_without_a_serving_config_the_newest_version_serves(models: Path) -> None:
    publish(models, 2, 0.846)
    assert serving_now(models, "mnist", 2).line() == "mnist 2 (accuracy 0.846) now serves"


def test_a_worse_version_behind_the_gate_is_a_candidate_and_the_better_one_keeps_serving(
    models: Path,
) -> None:
    serving(models, GATE)
    publish(models, 2, 0.846)
    said = serving_now(models, "mnist", 2)
    assert said.line() == "mnist 2 (accuracy 0.846) is a candidate; 1 (0.956) keeps serving"
    assert said.role == "candidate" and said.serving == 1 and said.before == 1
    assert said.why == "accuracy 0.846 < 0.956 - 0.005 (version 1)"


def test_a_version_within_the_tolerance_takes_over(models: Path) -> None:
    serving(models, GATE)
    publish(models, 2, 0.952)
    assert serving_now(models, "mnist", 2).line() == "mnist 2 (accuracy 0.952) now serves"


def test_the_gate_starts_from_the_version_promoted_by_hand(models: Path) -> None:
    serving(models, GATE)
    publish(models, 2, 0.80)
    control_state.record(models / "mnist", "promote", 2)
    publish(models, 3, 0.82)  # worse than 1, better than the promoted 2
    assert serving_now(models, "mnist", 3).line() == "mnist 3 (accuracy 0.820) now serves"


def test_a_pinned_version_keeps_serving_whatever_passes_the_gate(models: Path) -> None:
    serving(models, GATE)
    control_state.record(models / "mnist", "pin", 1)
    publish(models, 2, 0.99)
    assert serving_now(models, "mnist", 2).line() == (
        "mnist 2 (accuracy 0.990) is loaded, but 1 (0.956) keeps serving: pinned"
    )


def test_a_version_without_the_gates_metric_is_a_candidate(models: Path) -> None:
    serving(models, GATE)
    publish(models, 2, None)
    assert serving_now(models, "mnist", 2).line() == (
        "mnist 2 (accuracy n/a) is a candidate; 1 (0.956) keeps serving"
    )


def test_a_candidate_outside_the_version_policy_is_not_even_loaded(models: Path) -> None:
    serving(models, {**GATE, "version_policy": {"specific": {"versions": [1]}}})
    publish(models, 2, 0.90)
    assert serving_now(models, "mnist", 2).line() == (
        "mnist 2 (accuracy 0.900) is not loaded: outside the version policy (specific 1); "
        "1 (0.956) keeps serving"
    )


def test_the_serving_configs_default_keeps_serving_a_version_that_passed(models: Path) -> None:
    serving(models, {"default": 1})
    publish(models, 2, 0.99)
    assert serving_now(models, "mnist", 2).line() == (
        "mnist 2 (accuracy 0.990) is loaded, but 1 (0.956) keeps serving: "
        "the serving config's default"
    )


def test_a_serving_config_that_does_not_parse_is_named(models: Path) -> None:
    (models / "mnist" / "serving.json").write_text('{"gate": {"metric": 3}}')
    publish(models, 2, 0.99)
    line = serving_now(models, "mnist", 2).line()
    assert line.startswith("mnist 2 (accuracy 0.990) is published, but ")
    assert "serving.json is not valid (invalid serving.json: gate.metric" in line
