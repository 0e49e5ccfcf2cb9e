"""What a model is, as data: its kind, labels, input, hyper-parameters, data, network, goals.

The five models differ only by these values; the loop, the export and the publishing code
are the same for all of them. What differs by task kind lives in ``training.tasks.kinds``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch import nn

from training.config import TrainConfig
from training.data.splits import Dataset
from training.tasks.kinds import Kind


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
class Goals:
    """What a shipped version should reach on the test split; the report and card show them.

    ``metrics``: floors of held-out metrics; ``per_condition``: the robustness suite's accuracy
    floor for each condition of the kinds the augmentation trains on
    (``robustness.TRAINED_KINDS``; the others, never trained on, are reported without a goal);
    ``ece``: the calibrated expected calibration error's ceiling.
    """

    metrics: dict[str, float]
    per_condition: float | None = None
    ece: float | None = None


@dataclass(frozen=True)
class Task:
    name: str
    description: str
    kind: Kind
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
    # Single 28x28 digits: measured on the robustness suite of upload-like renders.
    robustness: bool = False
    goals: Goals | None = None
    # What the model card says it is for, and where it is known to fail.
    intended_use: str = ""
    limits: tuple[str, ...] = ()
    # The command-line options that name its data (`--images DIR`), for the model card.
    data_options: str = ""
    # A model of the user's own data: its first version also writes the model's serving.json
    # with the promotion gate on its primary metric (the course's models ship with theirs).
    gate_on_first_publish: bool = False

    @property
    def output_size(self) -> int:
        return self.kind.output_size(self.labels)

    def output_manifest(self) -> dict[str, Any]:
        return {
            "name": self.output_name,
            "datatype": "FP32",
            "shape": [-1, self.output_size],
            "activation": self.kind.activation,
        }


def features_of(table: tuple[tuple[str, str, str], ...]) -> tuple[Feature, ...]:
    return tuple(Feature(*row) for row in table)
