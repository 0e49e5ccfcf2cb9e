"""The in-memory shape every data set takes: a train split, a validation split, a description."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Split:
    """Inputs exactly as the exported graph receives them, and their labels.

    ``x``: uint8 pixels (images) or float32 features in natural units (tabular).
    ``y``: int64 class per row (multiclass, binary) or a uint8 multi-hot matrix (multilabel).
    """

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"{len(self.x)} inputs but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.x)

    def take(self, n: int) -> Split:
        return Split(self.x[:n], self.y[:n])


@dataclass(frozen=True)
class Dataset:
    """Train and validation splits plus what the manifest's ``dataset`` block says of them."""

    train: Split
    validation: Split
    info: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {**self.info, "train_size": len(self.train), "validation_size": len(self.validation)}


def stratified_split(
    labels: np.ndarray, validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation row indices with every class in the same proportion.

    Both come shuffled (classes interleaved), so that any prefix - a dry run's few rows - is
    a fair sample, not one class. The seed is the data set's split seed, deliberately
    independent of the training seed, so that changing the training seed never moves a row
    between train and validation.
    """
    rng = np.random.default_rng(seed)
    train: list[np.ndarray] = []
    validation: list[np.ndarray] = []
    for value in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == value))
        n_val = round(len(rows) * validation_fraction)
        validation.append(rows[:n_val])
        train.append(rows[n_val:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(validation))
