"""What ``train`` does: train -> calibrate -> export -> parity gate -> measure -> report -> publish.

A run reads its data, trains (``training.loop``) on the train split with early stopping on the
validation split, and on rank 0: fits a temperature on the validation split and folds it into
the last layer, exports the weights into a staging folder, checks the graph, compares ONNX
Runtime with PyTorch, measures the exported graph on the test split and the robustness suite,
writes the report and renames the folder into the next version. Any failure on that path
leaves the repository untouched. The test split is read only after the weights are final.

Then, still on rank 0: a model of the user's own data gets its serving.json gate with its first
version, ``--promote`` records the promotion, and the run says what serves now, decided as the
service decides it (``training.serving_now``). Each step is announced through ``status`` (the
CLI prints those lines around the progress bar).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from modelrepo import serving_config
from modelrepo.names import MODEL_FILE, is_model_name
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
from training.promote import promote
from training.report.build import ReportInputs, write_report
from training.serving_now import ServingNow, serving_now
from training.tasks import TASKS, load_task_data
from training.tasks.spec import Task

# A dry run trains on one batch and validates, tests (and checks parity) on this many rows.
DRY_RUN_HELD_OUT_ROWS = 64
# The gate a model of the user's own data gets with its first version: a retrain takes over
# unless its primary test metric is worse by more than this (about noise, on a few hundred rows).
DEFAULT_GATE_TOLERANCE = 0.005

Status = Callable[[str], None]


def silent(_: str) -> None:
    """A status that says nothing."""


@dataclass(frozen=True)
class TrainReport:
    published: Published
    model: torch.nn.Module  # the trained network, best weights, temperature folded in
    metrics: Metrics  # test split, from the exported graph
    parity: Parity
    result: TrainResult
    manifest: dict[str, Any]
    serving: ServingNow  # what serves once it is published (and promoted, if asked)
    promoted: str | None = None  # the promotion in words, with --promote


def train_and_publish(
    task: Task,
    options: RunOptions,
    ctx: DistContext,
    status: Status = silent,
    data: Dataset | None = None,
    **overrides: Any,
) -> TrainReport | None:
    """Train ``task`` and publish it; the report on rank 0, ``None`` on the other ranks.

    ``data``: the task's data when it is already read (your own data), else the task loads it.
    """
    say = status if ctx.is_main and options.progress else silent
    set_thread_count(ctx, task.max_threads)
    config = task.config.with_overrides(**overrides)
    if options.dry_run:
        config = dataclasses.replace(config, epochs=1)
    if data is None:
        say(f"{task.name}: reading the data")
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

    say(
        f"{task.name}: split into {len(data.train):,} train, {len(data.validation):,} "
        f"validation and {len(data.test):,} test rows ({data.info.get('split', 'fixed')}; "
        f"split seed {data.info.get('split_seed')})"
    )
    torch.manual_seed(options.seed)
    model = task.build_model(data)
    say(
        f"{task.name}: training on {ctx.device.type} ({ctx.world_size} process"
        f"{'es' if ctx.world_size > 1 else ''}), at most {config.epochs} epochs, keeping the "
        f"epoch of the lowest validation loss"
    )
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
        say(
            f"{task.name}: trained {result.epochs_run} epochs in {result.duration_s:.1f} s; "
            f"kept epoch {result.best_epoch}"
        )
        try:
            report = _publish(task, model, data, config, result, training_block, options, say)
        except REPORTED as caught:
            error = caught
    # Every rank waits here for rank 0's export and publish, and learns how it went.
    if not rank0_decides(ctx, error is None):
        raise error or TrainingError("rank 0 could not export or publish; see its output")
    return report


def list_models(models_dir: Path) -> list[tuple[Task, list[int]]]:
    """Every model training knows, with the versions published in ``models_dir``."""
    return [(task, published_versions(models_dir, task.name)) for task in TASKS.values()]


def other_models(models_dir: Path) -> list[tuple[str, list[int]]]:
    """The other models in ``models_dir`` (your own data's, graphs published from elsewhere),
    with their versions."""
    if not models_dir.is_dir():
        return []
    names = sorted(
        entry.name
        for entry in models_dir.iterdir()
        if entry.is_dir() and is_model_name(entry.name) and entry.name not in TASKS
    )
    found = [(name, published_versions(models_dir, name)) for name in names]
    return [(name, versions) for name, versions in found if versions]


def _publish(
    task: Task,
    model: torch.nn.Module,
    data: Dataset,
    config: TrainConfig,
    result: TrainResult,
    training_block: dict[str, Any],
    options: RunOptions,
    say: Status,
) -> TrainReport:
    cpu = torch.device("cpu")
    model = model.cpu().eval()
    # Calibrate on validation; the test split is only read below, once the weights are final.
    temperature = 1.0
    if config.calibrate:
        say(f"{task.name}: calibrating (a temperature fitted on the validation split)")
        val_logits = predict_logits(model, data.validation.x, cpu)
        temperature = fit_temperature(task.kind, val_logits, data.validation.y)
    uncalibrated = predict_logits(model, data.test.x, cpu)
    fold_temperature(logits_layer(model), temperature)

    with staging_folder(options.models_dir, task.name) as stage:
        onnx_path = stage / MODEL_FILE
        say(f"{task.name}: exporting to ONNX")
        export_onnx(model, task, data.validation.x, onnx_path)
        say(
            f"{task.name}: checking the graph: ONNX Runtime against PyTorch on "
            f"{len(data.validation):,} validation rows"
        )
        parity = parity_gate(onnx_path, model, data.validation.x)
        say(f"{task.name}: measuring the exported graph on the {len(data.test):,} test rows")
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
        say(f"{task.name}: writing the report")
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
        say(f"{task.name}: publishing into {options.models_dir}")
        published = commit(stage, task.name, manifest)
    if task.gate_on_first_publish and published.version == 1:
        gate = serving_config.Gate(
            metric=task.kind.primary_metric, tolerance=DEFAULT_GATE_TOLERANCE
        )
        if serving_config.create(published.path.parent, serving_config.ServingConfig(gate=gate)):
            say(f"{task.name}: wrote its promotion gate into {published.path.parent}/serving.json")
    promoted = (
        promote(options.models_dir, task.name, published.version) if options.promote else None
    )
    return TrainReport(
        published=published,
        model=model,
        metrics=measured.metrics,
        parity=parity,
        result=result,
        manifest=manifest,
        serving=serving_now(options.models_dir, task.name, published.version),
        promoted=promoted,
    )


def _capture(action: Any) -> Exception | None:
    try:
        action()
    except REPORTED as error:
        return error
    return None
