"""What the CLI's commands do: train -> export -> parity gate -> publish; evaluate; list.

A run reads its data, trains (``training.loop``), and on rank 0 exports the best weights into
a staging folder, checks the graph, compares ONNX Runtime with PyTorch on the validation
inputs, plots the learning curve and renames the folder into the next version. Any failure
on that path leaves the repository untouched.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from training.checkpoint import checkpoint_path
from training.config import RunOptions
from training.data.splits import Dataset
from training.distributed import DistContext, rank0_decides, set_thread_count
from training.errors import DataError, PublishError, TrainingError
from training.export import Parity, export_onnx, onnx_logits, parity_gate
from training.loop import TrainResult, fit
from training.manifest import build_manifest
from training.metrics import Metrics, compute_metrics
from training.plots import plot_learning_curve
from training.publish import (
    MANIFEST_FILE,
    MODEL_FILE,
    Published,
    commit,
    ensure_writable,
    published_versions,
    sha256_file,
    staging_folder,
)
from training.tasks import TASKS, get_task
from training.tasks.spec import Task

# A dry run trains on one batch and validates (and checks parity) on this many rows.
DRY_RUN_VALIDATION_ROWS = 64


@dataclass(frozen=True)
class TrainReport:
    published: Published
    model: torch.nn.Module  # the trained network, best weights, as exported
    metrics: Metrics
    parity: Parity
    result: TrainResult


@dataclass(frozen=True)
class EvaluationReport:
    name: str
    version: int
    metrics: Metrics
    recorded_metrics: Metrics
    dataset: str
    samples: int
    note: str | None


def train_and_publish(
    task: Task, options: RunOptions, ctx: DistContext, **overrides: Any
) -> TrainReport | None:
    """Train ``task`` and publish it; the report on rank 0, ``None`` on the other ranks."""
    set_thread_count(ctx, task.max_threads)
    config = task.config.with_overrides(**overrides)
    if options.dry_run:
        config = dataclasses.replace(config, epochs=1)
    data = load_task_data(task, options.data_dir)
    if options.dry_run:
        data = Dataset(
            train=data.train.take(config.batch_size),
            validation=data.validation.take(DRY_RUN_VALIDATION_ROWS),
            info=data.info,
        )
    writable_error = _capture(lambda: ensure_writable(options.models_dir)) if ctx.is_main else None
    if not rank0_decides(ctx, writable_error is None):
        raise writable_error or PublishError(f"rank 0 cannot write to {options.models_dir}")

    torch.manual_seed(options.seed)
    model = task.build_model(data)
    result = fit(
        model,
        task,
        data,
        config,
        seed=options.seed,
        ctx=ctx,
        checkpoint_file=checkpoint_path(options.checkpoint_dir, task.name),
        resume=options.resume,
        progress=options.progress,
    )

    report: TrainReport | None = None
    error: TrainingError | None = None
    if ctx.is_main:
        training_block = {
            "seed": options.seed,
            "config": config.to_dict(),
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "device": ctx.device.type,
            "duration_s": round(result.duration_s, 3),
            "seconds_per_epoch": round(result.seconds_per_epoch, 4),
            "train_seconds_per_epoch": round(result.train_seconds_per_epoch, 4),
            "world_size": ctx.world_size,
            "torch_threads": torch.get_num_threads(),
            "resumed_from_epoch": result.resumed_from_epoch,
            "early_stopping": {"monitor": "val_loss", "restore_best": True},
        }
        try:
            report = _export_and_publish(task, model, data, result, training_block, options)
        except TrainingError as caught:
            error = caught
    # Every rank waits here for rank 0's export and publish, and learns how it went.
    if not rank0_decides(ctx, error is None):
        raise error or TrainingError("rank 0 could not export or publish; see its output")
    return report


def load_task_data(task: Task, data_dir: Path | None) -> Dataset:
    if data_dir is not None and not task.accepts_data_dir:
        raise DataError(
            f"model {task.name!r} trains on generated data; --data-dir applies only to "
            f"the MNIST models ({', '.join(t.name for t in TASKS.values() if t.accepts_data_dir)})"
        )
    if data_dir is not None and not data_dir.is_dir():
        raise DataError(f"data folder {data_dir} does not exist or is not a folder")
    return task.load_data(data_dir)


def evaluate_published(
    name: str, models_dir: Path, version: int | None = None, data_dir: Path | None = None
) -> EvaluationReport:
    """Held-out metrics of a published version, computed by ONNX Runtime from its file."""
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
    manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    if sha256_file(folder / MODEL_FILE) != manifest.get("model_sha256"):
        raise PublishError(f"{folder / MODEL_FILE} does not match the sha256 in its manifest")
    data = load_task_data(task, data_dir)
    logits = onnx_logits(folder / MODEL_FILE, data.validation.x)
    metrics = compute_metrics(task.kind, logits, data.validation.y, manifest.get("threshold"))
    trained_on = manifest.get("dataset", {}).get("name")
    note = None
    if trained_on != data.info.get("name"):
        note = (
            f"version {chosen} was trained on {trained_on!r}, evaluated here on "
            f"{data.info.get('name')!r}: the numbers are not comparable with its manifest"
        )
    return EvaluationReport(
        name=name,
        version=chosen,
        metrics=metrics,
        recorded_metrics=manifest.get("metrics", {}),
        dataset=str(data.info.get("name")),
        samples=len(data.validation),
        note=note,
    )


def list_models(models_dir: Path) -> list[tuple[Task, list[int]]]:
    """Every model training knows, with the versions published in ``models_dir``."""
    return [(task, published_versions(models_dir, task.name)) for task in TASKS.values()]


def _export_and_publish(
    task: Task,
    model: torch.nn.Module,
    data: Dataset,
    result: TrainResult,
    training_block: dict[str, Any],
    options: RunOptions,
) -> TrainReport:
    x_val = data.validation.x
    with staging_folder(options.models_dir, task.name) as stage:
        onnx_path = stage / MODEL_FILE
        export_onnx(model, task, x_val, onnx_path)
        parity = parity_gate(onnx_path, model, x_val)
        # The numbers people read are those of the graph that will serve, not of torch.
        metrics = compute_metrics(
            task.kind, onnx_logits(onnx_path, x_val), data.validation.y, task.threshold
        )
        plot_learning_curve(
            result.history, stage / "learning_curve.png", task.name, result.best_epoch
        )
        manifest = build_manifest(
            task,
            metrics=metrics,
            parity=parity,
            dataset=data.describe(),
            training=training_block,
            dry_run=options.dry_run,
        )
        published = commit(stage, task.name, manifest)
    return TrainReport(
        published=published, model=model, metrics=metrics, parity=parity, result=result
    )


def _capture(action: Any) -> TrainingError | None:
    try:
        action()
    except TrainingError as error:
        return error
    return None
