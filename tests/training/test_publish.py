"""Training publishes what the contract asks: every manifest field, with its meaning."""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from training.pipeline import TrainReport
from training.tasks import TASKS, get_task

CONTRACT_FIELDS = [
    "format",
    "name",
    "version",
    "task",
    "labels",
    "input",
    "output",
    "threshold",
    "metrics",
    "primary_metric",
    "validation_metrics",
    "robustness",
    "calibration",
    "parity",
    "dataset",
    "training",
    "versions",
    "created_at",
    "model_sha256",
]
METRICS = {
    "multiclass": {"accuracy"},
    "binary": {"accuracy", "precision", "recall", "roc_auc"},
    "multilabel": {"micro_f1", "macro_f1", "exact_match"},
}


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


@pytest.mark.parametrize("name", list(TASKS))
def test_manifest_has_every_contract_field_with_the_right_meaning(
    name: str, published: dict[str, TrainReport]
) -> None:
    task = get_task(name)
    folder = published[name].published.path
    m = read_manifest(folder)
    assert list(m)[: len(CONTRACT_FIELDS)] == CONTRACT_FIELDS
    assert m["format"] == 1
    assert (m["name"], str(m["version"])) == (folder.parent.name, folder.name)
    assert m["task"] == task.kind.name
    inp, out = m["input"], m["output"]
    assert inp["shape"][0] == -1 and out["shape"] == [-1, task.output_size]
    assert out["name"] == "logits" and out["datatype"] == "FP32"
    if task.kind.name == "binary":
        assert len(m["labels"]) == 2 and out["activation"] == "sigmoid"
    else:
        assert len(m["labels"]) == out["shape"][1]
    if inp["kind"] == "image":
        assert inp["datatype"] == "UINT8" and inp["features"] is None
        assert inp["image"]["height"] * inp["image"]["width"] == math.prod(inp["shape"][1:])
    else:
        assert inp["datatype"] == "FP32" and inp["image"] is None
        assert len(inp["features"]) == inp["shape"][1]
        assert all(set(f) == {"name", "unit", "description"} for f in inp["features"])
    assert m["threshold"] == (None if task.kind.name == "multiclass" else 0.5)
    assert out["activation"] == ("softmax" if task.kind.name == "multiclass" else "sigmoid")
    assert set(m["metrics"]) == set(m["validation_metrics"]) == METRICS[task.kind.name]
    assert m["primary_metric"] in m["metrics"]
    assert (m["robustness"] is not None) == (name in ("mnist", "mnist-cnn"))
    assert {"temperature", "ece_before", "ece_after"} <= set(m["calibration"])
    assert 0 <= m["parity"]["max_abs_diff"] <= 1e-4 and m["parity"]["samples"] > 0
    assert {"name", "train_size", "validation_size", "test_size", "split_seed"} <= set(m["dataset"])
    assert {
        "seed",
        "config",
        "epochs_run",
        "best_epoch",
        "device",
        "duration_s",
        "seconds_per_epoch",
    } <= set(m["training"])
    assert m["training"]["config"]["batch_size"] >= 1
    assert m["versions"]["opset"] >= 17 and m["versions"]["torch"].startswith("2.13")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m["created_at"])
    assert m["model_sha256"] == hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()


def test_dry_run_is_marked_in_the_manifest(published: dict[str, TrainReport]) -> None:
    assert read_manifest(published["mnist-cnn"].published.path)["dry_run"] is True
    assert read_manifest(published["mnist"].published.path)["dry_run"] is False
