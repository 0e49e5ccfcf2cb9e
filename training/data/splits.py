"""The in-memory shape every data set takes: train, validation and test splits, and a description.

- ``train``: the weights learn from it (and the augmentation draws from it);
- ``validation``: early stopping, model selection and the temperature are decided on it;
- ``test``: touched only by the final report - nothing is chosen by looking at it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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

    def rows(self, index: np.ndarray) -> Split:
        return Split(self.x[index], self.y[index])


@dataclass(frozen=True)
class Dataset:
    """Train, validation and test splits plus what the manifest's ``dataset`` block says."""

    train: Split
    validation: Split
    test: Split
    info: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            **self.info,
            "train_size": len(self.train),
            "validation_size": len(self.validation),
            "test_size": len(self.test),
        }

    def map(self, transform: Callable[[Split], Split]) -> Dataset:
        """The same splits with ``transform(split)`` applied to each (a reshape, a prefix)."""
        return Dataset(
            transform(self.train), transform(self.validation), transform(self.test), self.info
        )


def stratified_split(
    labels: np.ndarray, held_out: Sequence[float], seed: int
) -> tuple[np.ndarray, ...]:
    """Row indices ``(train, *held_out_parts)``, every class in the same proportion in each.

    ``held_out`` are the fractions of the parts carved out besides train, in order:
    ``(0.1, 0.1)`` gives train / validation / test as 80/10/10. All parts come shuffled
    (classes interleaved), so that any prefix - a dry run's few rows, a capped robustness
    suite - is a fair sample, not one class. The seed is the data set's split seed,
    deliberately independent of the training seed, so that changing the training seed never
    moves a row between the splits.
    """
    if any(f <= 0 for f in held_out) or sum(held_out) >= 1:
        raise ValueError(f"held-out fractions must be positive and sum to under 1: {held_out}")
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(held_out) + 1)]
    for value in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == value))
        start = 0
        for part, fraction in zip(parts[1:], held_out, strict=True):
            count = round(len(rows) * fraction)
            part.append(rows[start : start + count])
            start += count
        parts[0].append(rows[start:])
    return tuple(rng.permutation(np.concatenate(part)) for part in parts)


def strata(y: np.ndarray) -> np.ndarray:
    """What to stratify ``y`` by: the class of each row, or for multi-hot rows the rarest of
    the row's labels (-1 for a row with none), so that every label, even a rare one, lands in
    each split in about its share."""
    if y.ndim == 1:
        return y
    counts = y.sum(axis=0).astype(np.float64)
    rarity = np.where(y > 0, counts[None, :], np.inf)
    return np.where(y.any(axis=1), rarity.argmin(axis=1), -1)
