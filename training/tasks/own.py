"""Models of your own data: ``train NAME --images DIR`` and ``train NAME --table FILE --target C``.

The data is read once (``training.data.images``, ``training.data.table``), split 80/10/10,
stratified, with a fixed split seed, and becomes a ``Task`` like the course's pages: the same
loop, early stopping on validation, calibration, export, parity gate, report and publishing.

- images: 28x28 as the service's image route makes them; ``--net mlp`` is the course's
  Dense 25 relu -> 15 relu -> K, ``--net cnn`` (default) the digit CNN's trunk with K logits.
  One folder per class gives a multiclass model (also with two folders: neither is "positive");
  ``--labels-csv`` a multi-label one. Every epoch jitters the images a little (rotation, zoom,
  shift), as ``mnist`` and ``mnist-cnn`` do.
- tables: standardise (train split's mean and deviation, inside the graph) -> Dense 25 relu ->
  15 relu -> the output; binary for two target values (or ``--positive``), else multiclass.

Recipes are fixed, not tuned per data set: a constant learning rate, with the epoch kept by the
validation loss (early stopping), so the weights stop where validation says.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from torch import nn

from training.config import TrainConfig
from training.data import images, table
from training.data.splits import Dataset, Split, strata, stratified_split
from training.errors import UsageError
from training.nets import MLP, InputNorm
from training.tasks.kinds import BINARY, MULTICLASS, MULTILABEL, Kind
from training.tasks.mnist_cnn import cnn
from training.tasks.spec import Feature, InputSpec, Task

Net = Literal["mlp", "cnn"]
Status = Callable[[str], None]

SPLIT_SEED = 0
HELD_OUT = (0.1, 0.1)  # validation, test
SPLIT = "stratified 80/10/10: train / validation / test"
IMAGE_SIZE = (28, 28)

IMAGE_CONFIGS: dict[str, TrainConfig] = {
    "mlp": TrainConfig(
        epochs=100,
        batch_size=64,
        lr=3e-3,
        optimizer="adamw",
        weight_decay=1e-4,
        patience=10,
        min_epochs=10,
        augment="affine",
        rotation=10.0,
        zoom=0.05,
        shift=1.0,
    ),
    "cnn": TrainConfig(
        epochs=40,
        batch_size=64,
        lr=2e-3,
        optimizer="adamw",
        weight_decay=5e-4,
        patience=8,
        min_epochs=15,
        augment="affine",
    ),
}
TABLE_CONFIG = TrainConfig(epochs=300, batch_size=32, lr=1e-2, patience=20)
# Past this many training rows a table trains in larger batches: an epoch stays a few
# hundred steps or less, however long the file.
LARGE_TABLE_ROWS = 8000


@dataclass(frozen=True)
class ImageSource:
    folder: Path
    labels_csv: Path | None = None
    net: Net = "cnn"

    def options(self) -> str:
        labels = f" --labels-csv {shlex.quote(str(self.labels_csv))}" if self.labels_csv else ""
        return f"--images {shlex.quote(str(self.folder))}{labels} --net {self.net}"


@dataclass(frozen=True)
class TableSource:
    file: Path
    target: str
    positive: str | None = None

    def options(self) -> str:
        positive = f" --positive {shlex.quote(self.positive)}" if self.positive else ""
        return (
            f"--table {shlex.quote(str(self.file))} --target {shlex.quote(self.target)}{positive}"
        )


Source = ImageSource | TableSource


def source_from_options(
    images: Path | None,
    labels_csv: Path | None,
    net: Net | None,
    table: Path | None,
    target: str | None,
    positive: str | None,
) -> Source | None:
    """The data ``train``'s options name, or None for a course model; UsageError when the
    options do not fit together."""
    if images is not None and table is not None:
        raise UsageError("give --images DIR or --table FILE, not both")
    if images is None and (labels_csv is not None or net is not None):
        raise UsageError(f"{'--labels-csv' if labels_csv else '--net'} goes with --images DIR")
    if table is None and (target is not None or positive is not None):
        raise UsageError(f"{'--target' if target else '--positive'} goes with --table FILE")
    if images is not None:
        return ImageSource(images, labels_csv, net or "cnn")
    if table is not None:
        if target is None:
            raise UsageError("--table FILE needs --target COLUMN: the column to predict")
        return TableSource(table, target, positive)
    return None


def own_task(
    name: str, source: Source, status: Status, progress: bool = False
) -> tuple[Task, Dataset]:
    """Read ``source``, split it, and describe the model to train on it: (task, its data)."""
    if isinstance(source, ImageSource):
        return _image_task(name, source, status, progress)
    return _table_task(name, source, status)


def _image_task(
    name: str, source: ImageSource, status: Status, progress: bool
) -> tuple[Task, Dataset]:
    status(f"{name}: reading the images in {source.folder}")
    if source.labels_csv is not None:
        read = images.read_multilabel(source.folder, source.labels_csv, IMAGE_SIZE, progress)
    else:
        read = images.read_class_folders(source.folder, IMAGE_SIZE, progress)
    kind: Kind = MULTILABEL if read.multilabel else MULTICLASS
    status(f"{name}: read {len(read.x):,} images; {_counts(read.labels, read.y)}")
    if (skipped := read.describe_skipped()) is not None:
        status(f"{name}: {skipped}")
    if read.ignored:
        status(f"{name}: ignored {read.ignored:,} files that are not .png, .jpg or .jpeg")
    x = read.x.reshape(len(read.x), -1) if source.net == "mlp" else read.x
    data = _split(
        x,
        read.y,
        {
            "name": f"{name}-images",
            "source": f"your images in {source.folder}"
            + (
                f", labels from {source.labels_csv}"
                if source.labels_csv
                else ", one folder per class"
            )
            + ", read as the service reads uploads",
            "skipped_files": len(read.skipped),
        },
    )
    outputs = kind.output_size(read.labels)
    height, width = IMAGE_SIZE
    if source.net == "mlp":
        spec = InputSpec("pixels", "UINT8", (-1, height * width), "image", image=IMAGE_SIZE)

        def build(_: Dataset) -> nn.Module:
            return MLP(
                InputNorm.pixels(), [height * width, 25, 15, outputs], ["relu", "relu", "linear"]
            )
    else:
        spec = InputSpec("pixels", "UINT8", (-1, height, width), "image", image=IMAGE_SIZE)

        def build(_: Dataset) -> nn.Module:
            return cnn(outputs)

    task = Task(
        name=name,
        description=f"{_which(read.labels)} in {height}x{width} images ({source.net}), "
        f"trained on your images in {source.folder}",
        kind=kind,
        labels=read.labels,
        input=spec,
        config=IMAGE_CONFIGS[source.net],
        load_data=lambda _: data,
        build_model=build,
        threshold=0.5 if kind.uses_threshold else None,
        max_threads=1 if source.net == "mlp" else None,
        intended_use="Your own images, as the service's predict/image route receives them: "
        "one subject per image, cropped to its ink and centred like an uploaded digit.",
        limits=(
            f"Trained on {len(data.train):,} of your images; it knows only these labels, and "
            "says one of them (or, multi-label, some of them) for anything it is shown.",
            "Every image is brought to 28x28 gray levels, cropped to what differs from its "
            "border: colour and fine detail are lost.",
        ),
        data_options=source.options(),
        gate_on_first_publish=True,
    )
    return task, data


def _table_task(name: str, source: TableSource, status: Status) -> tuple[Task, Dataset]:
    status(f"{name}: reading {source.file}")
    read = table.read_table(source.file, source.target, source.positive)
    status(
        f"{name}: read {len(read.x):,} rows of {len(read.features)} features; "
        f"{source.target}: {_counts(read.labels, read.y)}"
    )
    if read.note:
        status(f"{name}: {read.note}")
    kind = BINARY if read.binary else MULTICLASS
    data = _split(
        read.x,
        read.y,
        {"name": f"{name}-table", "source": f"your table {source.file}, target {source.target!r}"},
    )
    outputs = kind.output_size(read.labels)
    config = TABLE_CONFIG
    if len(data.train) > LARGE_TABLE_ROWS:
        config = config.with_overrides(batch_size=256)
    features = tuple(
        Feature(column, "", f"column {column!r} of {source.file.name}") for column in read.features
    )

    def build(split: Dataset) -> nn.Module:
        return MLP(
            InputNorm.standardize(split.train.x),
            [len(features), 25, 15, outputs],
            ["relu", "relu", "linear"],
        )

    task = Task(
        name=name,
        description=f"{source.target} ({_which(read.labels)}) from {len(features)} columns of "
        f"{source.file.name}",
        kind=kind,
        labels=read.labels,
        input=InputSpec("features", "FP32", (-1, len(features)), "tabular", features=features),
        config=config,
        load_data=lambda _: data,
        build_model=build,
        threshold=0.5 if kind.uses_threshold else None,
        max_threads=1,  # small dense layers: a second thread gains nothing
        intended_use=f"Predicting {source.target!r} from rows like those of {source.file.name}, "
        "in the same units.",
        limits=(
            f"Trained on {len(data.train):,} rows; values far outside the training rows' range "
            "are extrapolation.",
        ),
        data_options=source.options(),
        gate_on_first_publish=True,
    )
    return task, data


def _split(x: np.ndarray, y: np.ndarray, info: dict[str, object]) -> Dataset:
    train, validation, test = stratified_split(strata(y), HELD_OUT, SPLIT_SEED)
    rows = Split(x, y)
    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    return Dataset(
        train=rows.rows(train),
        validation=rows.rows(validation),
        test=rows.rows(test),
        info={**info, "split": SPLIT, "split_seed": SPLIT_SEED, "sha256": digest.hexdigest()},
    )


def _counts(labels: tuple[str, ...], y: np.ndarray) -> str:
    counts = y.sum(axis=0) if y.ndim == 2 else np.bincount(y, minlength=len(labels))
    shown = ", ".join(f"{label} {int(c):,}" for label, c in list(zip(labels, counts))[:12])
    return shown + (f", ... ({len(labels)} in all)" if len(labels) > 12 else "")


def _which(labels: tuple[str, ...]) -> str:
    shown = ", ".join(labels[:5]) + (", ..." if len(labels) > 5 else "")
    return f"{len(labels)} labels: {shown}"
