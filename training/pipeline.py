"""What ``train`` does: train -> calibrate -> export -> parity gate -> measure -> report -> publish.

A run reads its data, trains (``training.loop``) on the train split with early stopping on the
validation split, and on rank 0: fits a temperature on the validation split and folds it into
the last layer, exports the weights into a staging folder, checks the graph, compares ONNX
Runtime with PyTorch, measures the exported graph on the test split and the robustness suite,
writes the report and renames the folder into the next version. Any failure on that path
leaves the repository untouched. The test split is read only after the weights are final.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modelrepo.names import MODEL_FILE
from modelrepo.publish import (
    Published,
    commit,
    ensure_writable,
    published_versions,
    staging_folder,
)
from training.augment import augmentation
from training.calibration import fit_temperature, fold_temperature, logits_layer
from training.checkpoint import checkpoint_path
from training.config import RunOptions, TrainConfig
from training.data.splits import Dataset
from training.distributed import DistContext, rank0_decides, set_thread_count
from training.errors import REPORTED, RepositoryError, TrainingError
from training.evaluation import measure
from training.export import Parity, export_onnx, onnx_logits, parity_gate
from training.loop import TrainResult, fit, predict_logits
from training.manifest import build_manifest
from training.metrics import Metrics, expected_calibration_error
from training.report.build import ReportInputs, write_report
from training.tasks import TASKS, load_task_data
from training.tasks.spec import Task

# A dry run trains on one batch and validates, tests (and checks parity) on this many rows.
DRY_RUN_HELD_OUT_ROWS = 64


@dataclass(frozen=True)
class TrainReport:
    published: Published
    model: torch.nn.Module  # the trained network, best weights, temperature folded in
    metrics: Metrics  # test split, from the exported graph
    parity: Parity
    result: TrainResult
    manifest: dict[str, Any]


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
        held_out = DRY_RUN_HELD_OUT_ROWS
        data = Dataset(
            train=data.train.take(config.batch_size),
            validation=data.validation.take(held_out),
            test=data.test.take(held_out),
            info=data.info,
        )
    writable_error = _capture(lambda: ensure_writable(options.models_dir)) if ctx.is_main else None
    if not rank0_decides(ctx, writable_error is None):
        raise writable_error or RepositoryError(f"rank 0 cannot write to {options.models_dir}")

    torch.manual_seed(options.seed)
    model = task.build_model(data)
    result = fit(
        model,
        task,
        data,
        config,
        seed=options.seed,
        ctx=ctx,
        augmentation=augmentation(config, data, task.input.image, options.seed, options.data_dir),
        checkpoint_file=checkpoint_path(options.checkpoint_dir, task.name),
        resume=options.resume,
        progress=options.progress,
    )

    report: TrainReport | None = None
    error: Exception | None = None
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
            report = _publish(task, model, data, config, result, training_block, options)
        except REPORTED as caught:
            error = caught
    # Every rank waits here for rank 0's export and publish, and learns how it went.
    if not rank0_decides(ctx, error is None):
        raise error or TrainingError("rank 0 could not export or publish; see its output")
    return report


def list_models(models_dir: Path) -> list[tuple[Task, list[int]]]:
    """Every model training knows, with the versions published in ``models_dir``."""
    return [(task, published_versions(models_dir, task.name)) for task in TASKS.values()]


def _publish(
    task: Task,
    model: torch.nn.Module,
    data: Dataset,
    config: TrainConfig,
    result: TrainResult,
    training_block: dict[str, Any],
    options: RunOptions,
) -> TrainReport:
    cpu = torch.device("cpu")
    model = model.cpu().eval()
    # Calibrate on validation; the test split is only read below, once the weights are final.
    temperature = 1.0
    if config.calibrate:
        val_logits = predict_logits(model, data.validation.x, cpu)
        temperature = fit_temperature(task.kind, val_logits, data.validation.y)
    uncalibrated = predict_logits(model, data.test.x, cpu)
    fold_temperature(logits_layer(model), temperature)

    with staging_folder(options.models_dir, task.name) as stage:
        onnx_path = stage / MODEL_FILE
        export_onnx(model, task, data.validation.x, onnx_path)
        parity = parity_gate(onnx_path, model, data.validation.x)
        # The numbers people read are those of the graph that will serve, not of torch.
        validation = task.kind.metrics(
            onnx_logits(onnx_path, data.validation.x), data.validation.y, task.threshold
        )
        measured = measure(task, lambda x: onnx_logits(onnx_path, x), data.test)
        ece_before = expected_calibration_error(
            *task.kind.calibration_pairs(uncalibrated, data.test.y)
        )
        manifest = build_manifest(
            task,
            metrics=measured.metrics,
            validation_metrics=validation,
            robustness=measured.robustness,
            calibration={
                "method": "temperature scaling, folded into the last layer",
                "temperature": round(temperature, 6),
                "fitted_on": "validation",
                "measured_on": "test",
                "ece_bins": 15,
                "ece_before": ece_before,
                "ece_after": measured.ece,
            },
            parity=parity,
            dataset=data.describe(),
            training=training_block,
            dry_run=options.dry_run,
        )
        manifest["report_files"] = write_report(
            stage,
            task,
            manifest,
            ReportInputs(
                history=result.history,
                best_epoch=result.best_epoch,
                test=data.test,
                logits_before=uncalibrated,
                logits_after=measured.logits,
                model=model,
            ),
        )
        published = commit(stage, task.name, manifest)
    return TrainReport(
        published=published,
        model=model,
        metrics=measured.metrics,
        parity=parity,
        result=result,
        manifest=manifest,
    )


def _capture(action: Any) -> Exception | None:
    try:
        action()
    except REPORTED as error:
        return error
    return None
