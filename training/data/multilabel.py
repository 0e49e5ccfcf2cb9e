"""Multi-label digits: which of the ten digits appear on a 28 x 84 canvas of real MNIST digits.

A canvas has three 28-pixel slots side by side. Each canvas holds one, two or three digits
(equally likely), in randomly chosen slots, each digit nudged by up to ``MAX_JITTER`` pixels
up/down/left/right inside its slot (pixels pushed past the slot's edge are dropped; MNIST's
digits sit in a 20 x 20 box with a 4-pixel margin, so in practice nothing is lost). The label
is multi-hot over "0".."9": a digit drawn twice is one label.

Each split's canvases are composed only from the same split of the digits (train canvases from
train digits, validation from validation, test from test), each with its own fixed seed, so no
validation or test digit is ever seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data.mnist import load_mnist
from training.data.splits import Dataset, Split

SLOTS = 3
DIGIT = 28
CANVAS_SHAPE = (DIGIT, DIGIT * SLOTS)
MAX_JITTER = 2
NUM_CLASSES = 10
# Two canvases per source digit; capped so full MNIST stays trainable on a laptop's CPU.
CANVASES_PER_DIGIT = 2
MAX_CANVASES = {"train": 24_000, "validation": 6_000, "test": 6_000}
COMPOSE_SEEDS = {"train": 1, "validation": 2, "test": 3}


@dataclass(frozen=True)
class Composition:
    """Composed canvases with their provenance.

    ``sources[i, s]`` is the row of the source split drawn in slot ``s`` of canvas ``i``
    (-1: empty); ``offsets[i, s]`` is that digit's (dy, dx) jitter.
    """

    canvases: np.ndarray
    targets: np.ndarray
    sources: np.ndarray
    offsets: np.ndarray


def load_multilabel(data_dir: Path | None = None) -> Dataset:
    """Canvases of each split composed from the same split of the MNIST digits."""
    digits = load_mnist(data_dir)

    def canvases(split: str) -> Split:
        source: Split = getattr(digits, split)
        count = min(CANVASES_PER_DIGIT * len(source), MAX_CANVASES[split])
        composed = compose(source, count, COMPOSE_SEEDS[split])
        return Split(composed.canvases, composed.targets)

    return Dataset(
        train=canvases("train"),
        validation=canvases("validation"),
        test=canvases("test"),
        info={
            "name": f"multilabel-{digits.info['name']}",
            "source": f"canvases of 1-3 digits composed from {digits.info['name']}",
            "split": f"each split's canvases from the same split of {digits.info['name']} "
            f"({digits.info['split']})",
            "digits_sizes": {
                "train": len(digits.train),
                "validation": len(digits.validation),
                "test": len(digits.test),
            },
            "split_seed": digits.info["split_seed"],
            "compose_seeds": COMPOSE_SEEDS,
            "max_jitter_px": MAX_JITTER,
        },
    )


def compose(digits: Split, count: int, seed: int | np.random.Generator) -> Composition:
    """``count`` canvases drawn from ``digits`` alone, reproducibly for a given seed."""
    rng = np.random.default_rng(seed)
    n_digits = rng.integers(1, SLOTS + 1, size=count)
    # A random ranking of the slots; the first n_digits ranks are filled.
    ranks = np.argsort(rng.random((count, SLOTS)), axis=1)
    filled = ranks < n_digits[:, None]
    sources = np.where(filled, rng.integers(0, len(digits), size=(count, SLOTS)), -1)
    offsets = rng.integers(-MAX_JITTER, MAX_JITTER + 1, size=(count, SLOTS, 2))
    offsets[~filled] = 0

    canvases = np.zeros((count, *CANVAS_SHAPE), dtype=np.uint8)
    targets = np.zeros((count, NUM_CLASSES), dtype=np.uint8)
    for i, s in zip(*np.nonzero(filled), strict=True):
        row = sources[i, s]
        dy, dx = offsets[i, s]
        canvases[i, :, s * DIGIT : (s + 1) * DIGIT] = shift(digits.x[row], int(dy), int(dx))
        targets[i, digits.y[row]] = 1
    return Composition(canvases, targets, sources, offsets.astype(np.int8))


def shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` moved by (dy, dx) pixels, zero-filled, without wrapping around."""
    out = np.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out
