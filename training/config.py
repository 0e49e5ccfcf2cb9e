"""Hyper-parameters (one frozen dataclass, saved into the manifest) and run options.

``TrainConfig`` is what shapes the weights; each task's values live on its page in
``training/tasks/``. ``RunOptions`` is where and how a run happens (seed, device, folders).
Only the first goes into ``manifest.json``'s ``training.config``; the seed is recorded beside it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Optimizer = Literal["adam", "adamw"]
Schedule = Literal["constant", "onecycle"]
# none; affine: a small random rotation, zoom and shift of every image, every epoch;
# uploads: affine, and a share of each epoch's images swapped for upload-like renders of them;
# canvases: fresh multi-label canvases every epoch, from affine-jittered train digits.
Augment = Literal["none", "affine", "uploads", "canvases"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained weights, apart from the seed and the data."""

    epochs: int
    batch_size: int
    lr: float
    optimizer: Optimizer = "adam"
    weight_decay: float = 0.0
    schedule: Schedule = "constant"
    # Early stopping watches the validation loss; the best epoch's weights are restored.
    patience: int = 5
    # ... and stops no earlier than this epoch: on a few hundred images an epoch is a few
    # steps, and batch norm's running statistics (what validation runs with) need dozens.
    min_epochs: int = 0
    augment: Augment = "none"
    # The jitter's largest rotation (degrees), zoom (factor), shift and elastic displacement
    # (pixels; Simard et al.'s distortion, 0: none), drawn anew for every image every epoch.
    rotation: float = 12.0
    zoom: float = 0.10
    shift: float = 2.8
    elastic: float = 0.0
    # uploads: renders made per training image, and the share of rows swapped each epoch.
    renders_per_image: int = 0
    render_share: float = 0.0
    # Jitter the renders too (each epoch sees them a little differently), or the digits only.
    jitter_renders: bool = True
    label_smoothing: float = 0.0
    # Fit a temperature on the validation split and fold it into the last layer.
    calibrate: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ValueError(f"epochs, batch_size and patience must be >= 1: {self}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not (0 <= self.label_smoothing < 1 and 0 <= self.render_share <= 1):
            raise ValueError(f"label_smoothing and render_share must be in [0, 1): {self}")
        if self.augment == "uploads" and not (self.renders_per_image > 0 and self.render_share > 0):
            raise ValueError("augment='uploads' needs renders_per_image and render_share > 0")

    def with_overrides(self, **overrides: Any) -> TrainConfig:
        """A copy with the CLI's non-None overrides applied (``--epochs``, ``--lr``, ...)."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RunOptions:
    """How and where one run happens; none of it changes what a correct model is."""

    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data_dir: Path | None = None
    models_dir: Path = Path("models")
    checkpoint_dir: Path = Path("checkpoints")
    resume: bool = False
    # One small batch end to end (train a step, export, parity, publish), for tests and CI.
    dry_run: bool = False
    # Print the per-epoch progress bar and the status lines (rank 0 only).
    progress: bool = True
    # Promote the new version by hand: it serves, whatever the promotion gate says.
    promote: bool = False
