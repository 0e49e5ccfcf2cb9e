"""``python -m training``: train, train-all, evaluate, list, publish. Parsing and printing only.

Every ``TrainingError`` (and the contract's ``PublishError``) becomes one line,
``error: <message>``, on stderr, and exit status 1 when the run failed, 2 when what was given
cannot be used (``UsageError``: bad data, an unknown model), as typer's bad options are 2.
Status lines (what the run is doing, around the progress bar) go to stderr; what was published
and what serves now, to stdout. What a command needs (torch, the tasks, the pipeline) is
imported when it runs: ``--help`` answers in a fraction of a second.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from training.cli_options import (
    BatchSize,
    CheckpointDir,
    DataDir,
    Device,
    DeviceOpt,
    DryRun,
    Epochs,
    Images,
    LabelsCsv,
    Lr,
    Model,
    ModelsDir,
    Net,
    NetOpt,
    Positive,
    Promote,
    Quiet,
    Resume,
    Seed,
    Table,
    Target,
)
from training.errors import REPORTED, exit_code

if TYPE_CHECKING:
    from training.distributed import DistContext
    from training.evaluation import EvaluationReport
    from training.pipeline import TrainReport
    from training.tasks.own import Source

app = typer.Typer(
    help="Train the course's networks, export them to ONNX and publish them for the service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def train_all(
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: Lr = None,
    seed: Seed = 0,
    data_dir: DataDir = None,
    models_dir: ModelsDir = Path("models"),
    device: DeviceOpt = Device.auto,
    dry_run: DryRun = False,
    resume: Resume = False,
    checkpoint_dir: CheckpointDir = Path("checkpoints"),
    quiet: Quiet = False,
    promote: Promote = False,
) -> None:
    """Train and publish every course model (--data-dir applies to the MNIST-based ones)."""
    options = locals()
    from training.tasks import TASKS

    _train(list(TASKS), every_model=True, source=None, **options)


def train(
    model: str,
    images: Path | None = None,
    labels_csv: Path | None = None,
    net: Net | None = None,
    table: Path | None = None,
    target: str | None = None,
    positive: str | None = None,
    **options: Any,
) -> None:
    """Train one model and publish it as the next version: a course model by its name, or a
    model of your own images (--images DIR) or table (--table FILE --target COLUMN)."""
    from training.tasks.own import source_from_options

    with _errors_to_exit():
        source = source_from_options(
            images, labels_csv, net.value if net else None, table, target, positive
        )
    _train([model], every_model=False, source=source, **options)


# `train` takes train-all's options, declared once above, after its MODEL argument and the
# options that name your own data.
_options = inspect.signature(train_all, eval_str=True)
_own_data = {
    "images": Images,
    "labels_csv": LabelsCsv,
    "net": NetOpt,
    "table": Table,
    "target": Target,
    "positive": Positive,
}
train.__signature__ = _options.replace(  # type: ignore[attr-defined]
    parameters=[
        inspect.Parameter("model", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Model),
        *[
            inspect.Parameter(
                name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=annotation
            )
            for name, annotation in _own_data.items()
        ],
        *_options.parameters.values(),
    ]
)
app.command()(train)
app.command("train-all")(train_all)


def _train(
    models: list[str],
    *,
    every_model: bool,
    source: Source | None,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    seed: int,
    data_dir: Path | None,
    models_dir: Path,
    device: Device,
    dry_run: bool,
    resume: bool,
    checkpoint_dir: Path,
    quiet: bool,
    promote: bool,
) -> None:
    from training.config import RunOptions
    from training.distributed import distributed_context
    from training.pipeline import silent, train_and_publish
    from training.tasks import task_for

    with _errors_to_exit(), distributed_context(device.value) as ctx:
        say = _status if ctx.is_main and not quiet else silent
        for name in models:
            task, data = task_for(name, source, data_dir, say, progress=not quiet and ctx.is_main)
            options = RunOptions(
                seed=seed,
                device=device.value,
                # train-all: the IDX files feed the MNIST models; the others use their own data.
                data_dir=None if every_model and not task.accepts_data_dir else data_dir,
                models_dir=models_dir,
                checkpoint_dir=checkpoint_dir,
                resume=resume,
                dry_run=dry_run,
                progress=not quiet,
                promote=promote,
            )
            report = train_and_publish(
                task, options, ctx, say, data, epochs=epochs, batch_size=batch_size, lr=lr
            )
            _print_report(ctx, report)


@app.command()
def evaluate(
    model: Annotated[str, typer.Argument(help="A published model's name.")],
    models_dir: ModelsDir = Path("models"),
    version: Annotated[
        int | None, typer.Option(min=1, help="Default: the highest published version.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Measure a published model in ONNX Runtime: test split, robustness suite, calibration."""
    from training.evaluation import evaluate_published

    with _errors_to_exit():
        _print_evaluation(evaluate_published(model, models_dir, version, data_dir))


@app.command("list")
def list_command(models_dir: ModelsDir = Path("models")) -> None:
    """The models training knows, with their published versions."""
    from training.pipeline import list_models, other_models

    with _errors_to_exit():
        for task, versions in list_models(models_dir):
            published = ", ".join(map(str, versions)) if versions else "none"
            typer.echo(
                f"{task.name:<11} {task.kind.name:<11} versions: {published:<10} {task.description}"
            )
        for name, versions in other_models(models_dir):
            published = ", ".join(map(str, versions))
            typer.echo(f"{name:<11} {'':<11} versions: {published:<10} (not one of the course's)")


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def publish(ctx: typer.Context) -> None:
    """Publish an ONNX graph trained anywhere: `logitserve publish` (needs no torch)."""
    hand_over_to_publish(ctx.args)


def hand_over_to_publish(args: list[str]) -> None:
    """Bringing your own graph needs neither torch nor the train extra, and the service's own
    checks decide what it can serve: handed over whole (exec), importing nothing of the
    service."""
    os.execv(sys.executable, [sys.executable, "-m", "service", "publish", *args])


@contextmanager
def _errors_to_exit() -> Iterator[None]:
    try:
        yield
    except REPORTED as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=exit_code(error)) from error


def _status(line: str) -> None:
    typer.echo(line, err=True)


def _print_report(ctx: DistContext, report: TrainReport | None) -> None:
    if not ctx.is_main or report is None:
        return
    published, result = report.published, report.result
    metrics = ", ".join(f"{k} {_fmt(v)}" for k, v in report.metrics.items())
    calibration = report.manifest["calibration"]
    typer.echo(
        f"published {published.name} version {published.version} to {published.path}: "
        f"test {metrics}; ECE {_fmt(calibration['ece_before'])} -> "
        f"{_fmt(calibration['ece_after'])} (T={calibration['temperature']:.3f}); "
        f"parity max |diff| {report.parity.max_abs_diff:.2g}; "
        f"{result.epochs_run} epochs (kept {result.best_epoch}) in {result.duration_s:.1f} s, "
        f"{result.seconds_per_epoch:.3f} s/epoch"
    )
    robustness = report.manifest.get("robustness")
    if robustness:
        typer.echo(
            "  robustness (test accuracy): "
            + ", ".join(f"{k} {v:.3f}" for k, v in robustness["accuracy"].items())
        )
    if report.promoted is not None:
        typer.echo(f"{published.name}: {report.promoted}")
    typer.echo(report.serving.line())


def _print_evaluation(report: EvaluationReport) -> None:
    manifest, measured = report.manifest, report.measured
    typer.echo(
        f"{report.name} version {report.version} on the {report.samples}-row test split "
        f"of {report.dataset}:"
    )
    for key, value in measured.metrics.items():
        recorded = (manifest.get("metrics") or {}).get(key)
        typer.echo(f"  {key:<26} {_fmt(value)}   (manifest: {_fmt(recorded)})")
    if measured.robustness is not None:
        recorded_suite = (manifest.get("robustness") or {}).get("accuracy") or {}
        typer.echo("robustness suite (accuracy; test digits rendered as uploads):")
        for key, value in measured.robustness.items():
            typer.echo(f"  {key:<26} {_fmt(value)}   (manifest: {_fmt(recorded_suite.get(key))})")
    recorded_ece = (manifest.get("calibration") or {}).get("ece_after")
    typer.echo(f"calibration: ECE {_fmt(measured.ece)}   (manifest: {_fmt(recorded_ece)})")
    if report.note:
        typer.echo(f"note: {report.note}", err=True)


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
