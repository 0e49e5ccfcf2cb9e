"""Data-parallel training under torchrun: two CPU processes, gloo, one published version."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training.augment import augmentation
from training.distributed import DistContext, process_group_backend
from training.loop import fit
from training.tasks import get_task

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 3


def single_process_accuracy() -> float:
    """The same run in one process: the same recipe, augmentation and seed."""
    task = get_task("mnist")
    data = task.load_data(None)
    torch.manual_seed(0)
    model = task.build_model(data)
    config = task.config.with_overrides(epochs=EPOCHS)
    extra = augmentation(config, data, task.input.image, 0, None)
    result = fit(
        model, task, data, config, seed=0, ctx=DistContext(), augmentation=extra, progress=False
    )
    return max(result.history.val_metric)


def test_torchrun_two_processes_train_publish_once_and_learn_like_one(tmp_path: Path) -> None:
    models = tmp_path / "models"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "training",
            "train",
            "mnist",
            "--epochs",
            str(EPOCHS),
            "--device",
            "cpu",
            "--quiet",
            "--models-dir",
            str(models),
            "--checkpoint-dir",
            str(tmp_path / "ck"),
        ],  # fmt: skip
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # Only rank 0 publishes (and prints); rank 1 waited at the barrier.
    assert run.stdout.count("published mnist version 1") == 1
    assert sorted(p.name for p in (models / "mnist").iterdir()) == ["1"]
    manifest = json.loads((models / "mnist" / "1" / "manifest.json").read_text())
    assert manifest["training"]["world_size"] == 2
    assert manifest["training"]["epochs_run"] == EPOCHS
    # The global batch stays --batch-size, so two processes learn about as fast as one.
    assert manifest["validation_metrics"]["accuracy"] >= single_process_accuracy() - 0.03
    assert manifest["validation_metrics"]["accuracy"] > 0.8


@pytest.mark.parametrize(
    ("device", "processes", "gpus", "backend"),
    [
        ("cpu", 2, 0, "gloo"),
        ("cuda", 2, 2, "nccl"),
        ("cuda", 1, 1, "nccl"),
        ("cuda", 2, 1, "gloo"),  # two processes on one GPU: NCCL refuses duplicate GPUs
        ("cpu", 2, 4, "gloo"),
    ],
)
def test_nccl_only_when_each_process_has_a_gpu_of_its_own(
    device: str, processes: int, gpus: int, backend: str
) -> None:
    assert process_group_backend(torch.device(device), processes, gpus) == backend
