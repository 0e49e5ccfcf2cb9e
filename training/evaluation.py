"""Held-out figures of a model: test metrics, the robustness suite, calibration.

Used twice: by the pipeline right after export (on the graph that will serve), and by
``python -m training evaluate`` on any published version. Both measure through a function
from inputs to logits, so the numbers come from ONNX Runtime, not from torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelrepo import documents
from modelrepo import manifest as manifest_file
from modelrepo.names import MANIFEST_FILE, MODEL_FILE
from modelrepo.publish import published_versions, sha256_file
from training import robustness
from training.data.splits import Split
from training.errors import PublishError, UsageError
from training.export import onnx_logits
from training.metrics import Metrics, expected_calibration_error
from training.tasks import TASKS, get_task, load_task_data
from training.tasks.spec import Task

Logits = Callable[[np.ndarray], np.ndarray]

# The suite renders at most this many test digits (MNIST's own test split has 10,000).
SUITE_MAX_DIGITS = 2000

_suite_cache: dict[str, dict[str, np.ndarray]] = {}


@dataclass(frozen=True)
class Measured:
    """A model's figures on one test split."""

    metrics: Metrics
    logits: np.ndarray
    # {"clean": accuracy, condition: accuracy, ...}; None where the suite does not apply.
    robustness: dict[str, float] | None
    ece: float


def suite_inputs(task: Task, test: Split) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The robustness suite of ``test`` in the model's input shape, and its labels.

    Rendered once per process for the same digits (``train-all`` measures two digit models).
    """
    digits = test.x[:SUITE_MAX_DIGITS].reshape(-1, 28, 28)
    key = hashlib.sha256(np.ascontiguousarray(digits).tobytes()).hexdigest()
    if key not in _suite_cache:
        _suite_cache.clear()
        _suite_cache[key] = robustness.suite(digits)
    shape = (-1, *task.input.shape[1:])
    return {k: v.reshape(shape) for k, v in _suite_cache[key].items()}, test.y[: len(digits)]


def measure(task: Task, logits_of: Logits, test: Split) -> Measured:
    """Test metrics, the suite's accuracy per condition, and ECE, from ``logits_of``."""
    logits = logits_of(test.x)
    metrics = task.kind.metrics(logits, test.y, task.threshold)
    per_condition: dict[str, float] | None = None
    if task.robustness:
        rendered, labels = suite_inputs(task, test)
        primary = task.kind.primary_metric
        per_condition = {"clean": float(metrics[primary] or 0.0)}
        for condition, x in rendered.items():
            figures = task.kind.metrics(logits_of(x), labels, task.threshold)
            per_condition[condition] = float(figures[primary] or 0.0)
    return Measured(
        metrics=metrics,
        logits=logits,
        robustness=per_condition,
        ece=expected_calibration_error(*task.kind.calibration_pairs(logits, test.y)),
    )


@dataclass(frozen=True)
class EvaluationReport:
    """A published version measured again, beside what its manifest recorded."""

    name: str
    version: int
    dataset: str
    samples: int
    measured: Measured
    manifest: dict[str, Any]
    note: str | None


def evaluate_published(
    name: str, models_dir: Path, version: int | None = None, data_dir: Path | None = None
) -> EvaluationReport:
    """Test-split figures and the robustness suite of a published version, by ONNX Runtime."""
    if name not in TASKS and published_versions(models_dir, name):
        raise UsageError(
            f"evaluate measures the course's models on their own data; {name!r} is not one of "
            f"them: its test figures are in {models_dir / name}/<version>/manifest.json and "
            "README.md"
        )
    task = get_task(name)
    versions = published_versions(models_dir, name)
    if not versions:
        raise PublishError(f"no published version of {name!r} in {models_dir}")
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise PublishError(
            f"{name!r} has no version {chosen} in {models_dir} (published: "
            f"{', '.join(map(str, versions))})"
        )
    folder = models_dir / name / str(chosen)
    manifest = _read_manifest(folder)
    if sha256_file(folder / MODEL_FILE) != manifest.get("model_sha256"):
        raise PublishError(f"{folder / MODEL_FILE} does not match the sha256 in its manifest")
    data = load_task_data(task, data_dir)
    measured = measure(task, lambda x: onnx_logits(folder / MODEL_FILE, x), data.test)
    return EvaluationReport(
        name=name,
        version=chosen,
        dataset=str(data.info.get("name")),
        samples=len(data.test),
        measured=measured,
        manifest=manifest,
        note=_comparability(chosen, manifest.get("dataset") or {}, data.describe()),
    )


def _read_manifest(folder: Path) -> dict[str, Any]:
    """The version's manifest as a plain document, read as the service reads it (the
    contract's reader: bounded in size and depth)."""
    with (folder / MANIFEST_FILE).open("rb") as f:
        raw = f.read(manifest_file.MAX_BYTES + 1)
    if len(raw) > manifest_file.MAX_BYTES:
        raise PublishError(
            f"{folder / MANIFEST_FILE} is larger than {manifest_file.MAX_BYTES} bytes"
        )
    try:
        return documents.load(raw, MANIFEST_FILE)
    except ValueError as error:
        raise PublishError(f"{folder}: {error}") from None


def _comparability(version: int, trained: dict[str, Any], now: dict[str, Any]) -> str | None:
    """Why the figures may not match the manifest's, if they may not."""
    if trained.get("name") != now.get("name"):
        return (
            f"version {version} was trained on {trained.get('name')!r}, evaluated here on "
            f"{now.get('name')!r}: the numbers are not comparable with its manifest"
        )
    keys = ("split", "split_seed", "train_size", "validation_size", "test_size")
    if any(trained.get(k) != now.get(k) for k in keys):
        return (
            f"version {version} was trained on another split of {now.get('name')!r}; some of "
            "these test rows may have been in its training data, so the figures flatter it"
        )
    return None
