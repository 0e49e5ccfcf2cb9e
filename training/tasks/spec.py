"""What a model is, as data: its task, labels, input, hyper-parameters, data and network.

The five models differ only by these values; the loop, the export and the publishing code
are the same for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch import nn

from training.config import TrainConfig
from training.data.splits import Dataset

TaskKind = Literal["multiclass", "binary", "multilabel"]


@dataclass(frozen=True)
class Feature:
    name: str
    unit: str
    description: str


@dataclass(frozen=True)
class InputSpec:
    """The graph's input tensor exactly as the manifest describes it."""

    name: str
    datatype: Literal["UINT8", "FP32"]
    shape: tuple[int, ...]
    kind: Literal["image", "tabular"]
    image: tuple[int, int] | None = None
    features: tuple[Feature, ...] | None = None

    def to_manifest(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "datatype": self.datatype,
            "shape": list(self.shape),
            "kind": self.kind,
            "image": {"height": self.image[0], "width": self.image[1]} if self.image else None,
            "features": (
                [
                    {"name": f.name, "unit": f.unit, "description": f.description}
                    for f in self.features
                ]
                if self.features
                else None
            ),
        }


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    kind: TaskKind
    labels: tuple[str, ...]
    input: InputSpec
    config: TrainConfig
    # Reads or generates the data; the argument is --data-dir (None: the embedded default).
    load_data: Callable[[Path | None], Dataset]
    # Builds a fresh network; it sees the data for train-split statistics (normalisation).
    build_model: Callable[[Dataset], nn.Module]
    threshold: float | None = None
    # Only the MNIST-based models can read IDX files from --data-dir.
    accepts_data_dir: bool = False
    output_name: str = "logits"
    # CPU threads this model can use well (None: all); see distributed.set_thread_count.
    max_threads: int | None = None

    @property
    def output_size(self) -> int:
        return 1 if self.kind == "binary" else len(self.labels)

    @property
    def activation(self) -> Literal["softmax", "sigmoid"]:
        return "softmax" if self.kind == "multiclass" else "sigmoid"

    def output_manifest(self) -> dict[str, Any]:
        return {
            "name": self.output_name,
            "datatype": "FP32",
            "shape": [-1, self.output_size],
            "activation": self.activation,
        }


def features_of(table: tuple[tuple[str, str, str], ...]) -> tuple[Feature, ...]:
    return tuple(Feature(*row) for row in table)
