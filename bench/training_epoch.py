"""An MNIST-MLP epoch (4,000 images, batch 32, validation included) in our PyTorch loop and
in the course's Keras model, on the same split, in the same run."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def torch_epoch(epochs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "training",
                "train",
                "mnist",
                "--epochs",
                str(epochs),
                "--batch-size",
                "32",
                "--quiet",
                "--models-dir",
                f"{tmp}/models",
                "--checkpoint-dir",
                f"{tmp}/ckpt",
            ],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        manifest = json.loads(Path(f"{tmp}/models/mnist/1/manifest.json").read_text())
    training = manifest["training"]
    return {
        "seconds_per_epoch": training["seconds_per_epoch"],
        "train_seconds_per_epoch": training["train_seconds_per_epoch"],
        # The validation split, as the Keras side reports.
        "accuracy": manifest["validation_metrics"]["accuracy"],
        "epochs": training["epochs_run"],
    }


def keras_epoch(python: str, epochs: int) -> dict[str, float] | None:
    from training.tasks import get_task, load_task_data

    data = load_task_data(get_task("mnist"), None)
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "split.npz"
        np.savez(
            npz,
            x_train=data.train.x,
            y_train=data.train.y,
            x_val=data.validation.x,
            y_val=data.validation.y,
        )
        out = subprocess.run(
            [python, str(Path(__file__).with_name("keras_epoch.py")), str(npz), str(epochs)],
            capture_output=True,
            text=True,
        )
    if out.returncode != 0:
        print(out.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(keras_python: str | None, epochs: int = 10) -> list[str]:
    ours = torch_epoch(epochs)
    lines = [
        "| MNIST MLP, 4,000 images, batch 32 | s/epoch (train + validation) | held-out accuracy |",
        "|---|---|---|",
        f"| logitserve, PyTorch (`python -m training train mnist --epochs {epochs}`) | "
        f"{ours['seconds_per_epoch']:.3f} (train alone {ours['train_seconds_per_epoch']:.3f}) | "
        f"{ours['accuracy']:.3f} after {ours['epochs']:g} epochs |",
    ]
    keras = keras_epoch(keras_python, epochs) if keras_python else None
    if keras:
        lines.append(
            f"| the course's Keras model (TensorFlow {keras['tensorflow']}) | "
            f"{keras['seconds_per_epoch']:.3f} | {keras['accuracy']:.3f} after {epochs} epochs |"
        )
        ratio = keras["seconds_per_epoch"] / ours["seconds_per_epoch"]
        lines += ["", f"Keras takes {ratio:.2f}x as long per epoch as our PyTorch loop."]
    else:
        lines.append(
            "| the course's Keras model | not measured: pass --keras-python with TensorFlow | |"
        )
    return lines
