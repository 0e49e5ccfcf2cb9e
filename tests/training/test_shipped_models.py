"""The models shipped in models/: they load in ONNX Runtime and meet their accuracy floors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.export import onnx_logits
from training.pipeline import evaluate_published
from training.publish import published_versions
from training.tasks import TASKS

MODELS = Path(__file__).resolve().parents[2] / "models"

# Floors a little below what the shipped versions reach, on the held-out validation split.
FLOORS: dict[str, dict[str, float]] = {
    "mnist": {"accuracy": 0.91},
    "mnist-cnn": {"accuracy": 0.98},
    "multilabel": {"micro_f1": 0.96, "macro_f1": 0.96, "exact_match": 0.90},
    "tshirt": {"accuracy": 0.80, "roc_auc": 0.87},
    "coffee": {"accuracy": 0.96, "roc_auc": 0.98},
}


def test_every_known_model_is_shipped_as_a_single_version_1() -> None:
    assert {name: published_versions(MODELS, name) for name in TASKS} == {
        name: [1] for name in TASKS
    }
    assert not list(MODELS.glob("*/.tmp-*"))


@pytest.mark.parametrize("name", list(TASKS))
def test_shipped_model_meets_its_floor_in_onnx_runtime(name: str) -> None:
    report = evaluate_published(name, MODELS)  # checks the sha256 before running
    assert report.note is None  # evaluated on the data it was validated on
    for metric, floor in FLOORS[name].items():
        value = report.metrics[metric]
        assert value is not None and value >= floor, f"{name} {metric} {value} < {floor}"
        # The manifest reports what the shipped file really does.
        assert report.recorded_metrics[metric] == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize("name", list(TASKS))
def test_shipped_manifest_is_a_real_training_run(name: str) -> None:
    manifest = json.loads((MODELS / name / "1" / "manifest.json").read_text())
    assert manifest["dry_run"] is False
    assert manifest["training"]["device"] == "cpu" and manifest["training"]["world_size"] == 1
    assert (MODELS / name / "1" / "learning_curve.png").stat().st_size > 5000


def test_shipped_coffee_model_takes_natural_units() -> None:
    # 200 C for 13.5 min is a good roast in the lab's rule; 280 C for 15 min is burnt.
    logits = onnx_logits(
        MODELS / "coffee" / "1" / "model.onnx",
        np.array([[200.0, 13.5], [280.0, 15.0]], dtype=np.float32),
    )
    assert logits[0, 0] > 0 > logits[1, 0]


def test_shipped_tshirt_model_prefers_the_cheap_well_marketed_quality_shirt() -> None:
    shirts = np.array([[12.0, 2.0, 50.0, 9.0], [38.0, 11.0, 1.0, 2.0]], dtype=np.float32)
    logits = onnx_logits(MODELS / "tshirt" / "1" / "model.onnx", shirts)
    assert logits[0, 0] > 0 > logits[1, 0]
