"""The training CLI's options, each declared once, with its help: the commands in
``training.cli`` take them by these names."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Net(StrEnum):
    mlp = "mlp"
    cnn = "cnn"


ModelsDir = Annotated[Path, typer.Option(help="The model repository to publish into.")]
Epochs = Annotated[int | None, typer.Option(min=1, help="Override the model's epochs.")]
BatchSize = Annotated[int | None, typer.Option(min=1, help="Override the (global) batch size.")]
Lr = Annotated[float | None, typer.Option(min=0.0, help="Override the learning rate.")]
Seed = Annotated[int, typer.Option(help="Training seed (the data splits have their own).")]
DataDir = Annotated[
    Path | None,
    typer.Option(help="Folder with MNIST's IDX files (or torchvision's MNIST/raw layout)."),
]
DeviceOpt = Annotated[Device, typer.Option(help="auto: CUDA when available, else CPU.")]
DryRun = Annotated[
    bool, typer.Option(help="One batch end to end: train a step, export, check, publish.")
]
Resume = Annotated[bool, typer.Option(help="Continue from the last checkpoint, if any.")]
CheckpointDir = Annotated[Path, typer.Option(help="Checkpoints go to DIR/<model>/last.pt.")]
Quiet = Annotated[bool, typer.Option(help="No progress bar and no status lines.")]
Model = Annotated[
    str,
    typer.Argument(
        help="One of the course's models (`list` names them), or a name of your own with "
        "--images or --table."
    ),
]
Images = Annotated[
    Path | None,
    typer.Option(
        help="Your images: one sub-folder per class (the folder names are the labels), PNG or "
        "JPEG, read as the service reads uploads.",
        rich_help_panel="Your own data",
    ),
]
LabelsCsv = Annotated[
    Path | None,
    typer.Option(
        help="Multi-label: a CSV with columns file,labels (labels separated by ';'); the files "
        "are paths in --images DIR.",
        rich_help_panel="Your own data",
    ),
]
NetOpt = Annotated[
    Net | None,
    typer.Option(
        help="With --images: mlp, the course's 25-15 network, or cnn (default), the digit CNN.",
        rich_help_panel="Your own data",
    ),
]
Table = Annotated[
    Path | None,
    typer.Option(
        help="Your table: a CSV of named numeric columns; the other columns are the features.",
        rich_help_panel="Your own data",
    ),
]
Target = Annotated[
    str | None,
    typer.Option(help="With --table: the column to predict.", rich_help_panel="Your own data"),
]
Positive = Annotated[
    str | None,
    typer.Option(
        help="With --table: the target value that is the positive class (binary: it against "
        "the rest).",
        rich_help_panel="Your own data",
    ),
]
Promote = Annotated[
    bool,
    typer.Option(
        help="Promote the new version: it serves, whatever the model's promotion gate says."
    ),
]
