"""``manifest.json``: what the service needs to know about a model, and how it was made.

Fields and their order follow docs/model-repository.md; ``name``, ``version`` and
``model_sha256`` are placeholders here, filled in by ``modelrepo.publish.commit``;
``report_files`` is added once the report is written (the model card is made from the rest).
Extra fields (``description``, ``dry_run``, ``training.seconds_per_epoch``...) are allowed by
the contract and ignored by readers that do not know them.
"""

from __future__ import annotations

import math
import platform
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from training.export import OPSET, Parity
from training.robustness import SUITE_SEED
from training.tasks.spec import Task

FORMAT = 1


def build_manifest(
    task: Task,
    *,
    metrics: dict[str, float | None],
    validation_metrics: dict[str, float | None],
    robustness: dict[str, float] | None,
    calibration: dict[str, Any],
    parity: Parity,
    dataset: dict[str, Any],
    training: dict[str, Any],
    dry_run: bool,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "name": task.name,
        "version": None,
        "task": task.kind.name,
        "labels": list(task.labels),
        "input": task.input.to_manifest(),
        "output": task.output_manifest(),
        "threshold": task.threshold if task.kind.uses_threshold else None,
        "metrics": _numbers(metrics),
        "primary_metric": task.kind.primary_metric,
        "validation_metrics": _numbers(validation_metrics),
        "robustness": _robustness(robustness),
        "calibration": {
            k: _json_number(v) if isinstance(v, float) else v for k, v in calibration.items()
        },
        "parity": parity.to_manifest(),
        "dataset": dataset,
        "training": training,
        "versions": library_versions(),
        "created_at": utc_now(),
        "model_sha256": None,
        "description": task.description,
        "dry_run": dry_run,
    }


def library_versions() -> dict[str, Any]:
    return {
        "logitserve": _version("logitserve"),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "onnx": _version("onnx"),
        "onnxruntime": _onnxruntime_version(),
        "numpy": _version("numpy"),
        "opset": OPSET,
    }


def utc_now() -> str:
    """UTC, ISO 8601, seconds, with ``Z``: ``2026-11-26T10:00:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _numbers(metrics: dict[str, float | None]) -> dict[str, float | None]:
    return {k: _json_number(v) for k, v in metrics.items()}


def _robustness(accuracy: dict[str, float] | None) -> dict[str, Any] | None:
    if accuracy is None:
        return None
    return {
        "metric": "accuracy",
        "split": "test",
        "suite_seed": SUITE_SEED,
        "preprocessing": "uploads.decode + uploads.to_model_input, as the service's image route",
        "accuracy": {k: _json_number(v) for k, v in accuracy.items()},
    }


def _json_number(value: float | None) -> float | None:
    # JSON has no NaN or Infinity; an undefined metric is null.
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), 6)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _onnxruntime_version() -> str | None:
    import onnxruntime

    return str(onnxruntime.__version__)
