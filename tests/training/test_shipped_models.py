"""The models shipped in models/: they load in ONNX Runtime, do on the test split what their
manifests say (clean, under every upload condition, calibrated) and stay above their floors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from modelrepo.publish import published_versions
from modelrepo.serving_config import parse
from training import robustness
from training.config import RunOptions
from training.distributed import DistContext
from training.evaluation import evaluate_published
from training.export import onnx_logits
from training.pipeline import train_and_publish
from training.tasks import TASKS, get_task

MODELS = Path(__file__).resolve().parents[2] / "models"


# The shipped version of each model, by number: a user's own training publishes 2, 3... beside
# it, and this suite goes on testing what was shipped.
SHIPPED = 1


def test_every_known_model_is_shipped_as_version_1() -> None:
    for name in TASKS:
        assert SHIPPED in published_versions(MODELS, name), name
    assert not list(MODELS.glob("*/.tmp-*"))


# Issue 13's goals (tasks' `goals`) hold for the median of three seeds (docs/training.md); the
# shipped version is seed 0. These floors, a little below what seed 0 reaches on the test
# split, keep a retrained version from quietly getting worse.
FLOORS: dict[str, dict[str, float]] = {
    "mnist": {"accuracy": 0.945},
    "mnist-cnn": {"accuracy": 0.98},
    "multilabel": {"micro_f1": 0.98, "macro_f1": 0.98, "exact_match": 0.945},
    "tshirt": {"accuracy": 0.80, "roc_auc": 0.87},
    "coffee": {"accuracy": 0.96, "roc_auc": 0.98},
}
# mnist misses the 0.02 goal (docs/training.md says why); this ceiling keeps it from drifting.
ECE_CEILINGS = {"mnist": 0.03, "mnist-cnn": 0.02}
# The suite's conditions never trained on have no goal; these floors, a little below what seed 0
# reads (mnist 80-92%, mnist-cnn 91-98%), keep a retrained version from quietly reading worse.
UNSEEN_FLOORS = {"mnist": 0.75, "mnist-cnn": 0.88}


@pytest.mark.parametrize("name", list(TASKS))
def test_shipped_model_meets_its_floors_on_the_test_split_in_onnx_runtime(name: str) -> None:
    report = evaluate_published(name, MODELS, SHIPPED)  # checks the sha256 before running
    assert report.note is None  # evaluated on the split it was made with
    manifest = report.manifest
    for metric, floor in FLOORS[name].items():
        value = report.measured.metrics[metric]
        assert value is not None and value >= floor, f"{name} {metric} {value} < {floor}"
    # The manifest reports what the shipped file really does, on the test split.
    for metric, value in report.measured.metrics.items():
        assert manifest["metrics"][metric] == pytest.approx(value, abs=1e-6)
    assert manifest["calibration"]["ece_after"] == pytest.approx(report.measured.ece, abs=1e-6)
    if name in ECE_CEILINGS:
        assert report.measured.ece <= ECE_CEILINGS[name]


@pytest.mark.parametrize("name", ["mnist", "mnist-cnn"])
def test_shipped_digit_model_reads_every_upload_condition_above_its_goal_or_floor(
    name: str,
) -> None:
    goals = get_task(name).goals
    assert goals is not None and goals.per_condition is not None
    report = evaluate_published(name, MODELS, SHIPPED)
    assert report.measured.robustness is not None
    assert set(report.measured.robustness) == {"clean", *robustness.CONDITIONS}
    for condition, accuracy in report.measured.robustness.items():
        trained = condition == "clean" or condition in robustness.TRAINED_KINDS
        floor = goals.per_condition if trained else UNSEEN_FLOORS[name]
        assert accuracy >= floor, (name, condition, accuracy)
        recorded = report.manifest["robustness"]["accuracy"][condition]
        assert recorded == pytest.approx(accuracy, abs=1e-6)


@pytest.mark.parametrize("name", list(TASKS))
def test_shipped_manifest_is_a_real_training_run_with_its_report(name: str) -> None:
    folder = MODELS / name / str(SHIPPED)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["dry_run"] is False and manifest["training"]["seed"] == 0
    assert manifest["training"]["device"] == "cpu" and manifest["training"]["world_size"] == 1
    for entry in manifest["report_files"]:
        data = (folder / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["file"]
    assert (folder / "learning_curve.png").stat().st_size > 5000


def test_shipped_coffee_model_takes_natural_units() -> None:
    # 200 C for 13.5 min is a good roast in the lab's rule; 280 C for 15 min is burnt.
    logits = onnx_logits(
        MODELS / "coffee" / str(SHIPPED) / "model.onnx",
        np.array([[200.0, 13.5], [280.0, 15.0]], dtype=np.float32),
    )
    assert logits[0, 0] > 0 > logits[1, 0]


def test_shipped_tshirt_model_prefers_the_cheap_well_marketed_quality_shirt() -> None:
    shirts = np.array([[12.0, 2.0, 50.0, 9.0], [38.0, 11.0, 1.0, 2.0]], dtype=np.float32)
    logits = onnx_logits(MODELS / "tshirt" / str(SHIPPED) / "model.onnx", shirts)
    assert logits[0, 0] > 0 > logits[1, 0]


@pytest.mark.parametrize("name", list(TASKS))
def test_every_shipped_model_comes_with_a_promotion_gate_on_its_primary_metric(name: str) -> None:
    config = parse((MODELS / name / "serving.json").read_bytes())
    assert config.gate is not None and config.gate.higher_is_better
    assert config.gate.metric == get_task(name).kind.primary_metric
    assert 0 < config.gate.tolerance <= 0.005
    assert config.default is None  # the gate decides, not a fixed version


def test_a_worse_retrain_of_a_shipped_model_waits_as_a_candidate(tmp_path: Path) -> None:
    """What a new user tried: `train mnist --epochs 3` replaced the shipped 0.956 without a word.
    A dry run (one step: far worse) into a copy of the shipped repository stays a candidate."""
    models = tmp_path / "models"
    shutil.copytree(MODELS / "mnist", models / "mnist")
    options = RunOptions(
        device="cpu", models_dir=models, checkpoint_dir=tmp_path / "ck", dry_run=True
    )
    report = train_and_publish(get_task("mnist"), options, DistContext())
    assert report is not None and report.published.version == 2
    shipped = json.loads((MODELS / "mnist" / "1" / "manifest.json").read_text())["metrics"]
    assert report.serving.role == "candidate" and report.serving.serving == 1
    assert report.serving.line().endswith(
        f"is a candidate; 1 ({shipped['accuracy']:.3f}) keeps serving"
    )
