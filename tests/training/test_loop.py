"""The training loop: it learns, it is reproducible, it stops early, and it resumes exactly."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import training.loop
from training.augment import Augmentation, Digits, Jitter
from training.checkpoint import load_checkpoint
from training.distributed import DistContext
from training.errors import CheckpointError
from training.loop import TrainResult, evaluate, fit
from training.tasks import get_task


def train(
    name: str,
    seed: int = 0,
    checkpoint: Path | None = None,
    resume: bool = False,
    augmentation: Augmentation | None = None,
    **overrides: Any,
) -> tuple[nn.Module, TrainResult]:
    task = get_task(name)
    data = task.load_data(None)
    config = task.config.with_overrides(**overrides)
    torch.manual_seed(seed)
    model = task.build_model(data)
    result = fit(
        model,
        task,
        data,
        config,
        seed=seed,
        ctx=DistContext(),
        augmentation=augmentation,
        checkpoint_file=checkpoint,
        resume=resume,
        progress=False,
    )
    return model, result


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_mnist_beats_chance_after_one_epoch() -> None:
    model, result = train("mnist", epochs=1)
    assert result.history.val_metric[-1] > 0.5  # chance is 0.1


def test_tshirt_beats_chance_after_a_few_epochs() -> None:
    task = get_task("tshirt")
    model, _ = train("tshirt", epochs=3)
    _, metrics = evaluate(model, task, task.load_data(None).validation, torch.device("cpu"))
    assert metrics["roc_auc"] is not None and metrics["roc_auc"] > 0.75


def test_same_seed_gives_identical_weights_and_another_seed_does_not() -> None:
    a, _ = train("coffee", seed=1, epochs=2)
    b, _ = train("coffee", seed=1, epochs=2)
    c, _ = train("coffee", seed=2, epochs=2)
    assert same_weights(a, b)
    assert not same_weights(a, c)


def test_early_stopping_stops_and_restores_the_best_epoch() -> None:
    task = get_task("mnist")
    model, result = train("mnist", epochs=40, lr=0.01, patience=2, schedule="constant")
    history = result.history
    assert result.epochs_run < 40
    assert result.best_epoch == int(np.argmin(history.val_loss)) + 1
    assert result.epochs_run == result.best_epoch + 2
    restored_loss, _ = evaluate(model, task, task.load_data(None).validation, torch.device("cpu"))
    assert restored_loss == pytest.approx(min(history.val_loss), rel=1e-5)


def test_history_records_one_entry_per_epoch_with_timings() -> None:
    _, result = train("mnist", epochs=3, patience=10)
    h = result.history
    assert len(h.train_loss) == len(h.val_loss) == len(h.val_metric) == 3
    assert len(h.epoch_seconds) == 3 and result.seconds_per_epoch > 0
    assert h.train_loss[-1] < h.train_loss[0]


def test_checkpoint_is_written_every_epoch_and_loads_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "ck" / "last.pt"
    model, _ = train("mnist", checkpoint=path, epochs=2)
    state = load_checkpoint(path)  # torch.load(weights_only=True) inside
    assert state is not None and state["epoch"] == 2 and state["task"] == "mnist"
    assert set(state["model"]) == set(model.state_dict())


def test_resume_after_interruption_matches_an_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uninterrupted, _ = train("mnist", epochs=3, patience=10)

    path = tmp_path / "last.pt"
    real_save = training.loop.save_checkpoint

    def save_then_crash(p: Path, state: dict[str, Any]) -> None:
        real_save(p, state)
        if state["epoch"] == 1:
            raise KeyboardInterrupt("simulated crash after epoch 1")

    monkeypatch.setattr(training.loop, "save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train("mnist", checkpoint=path, epochs=3, patience=10)
    monkeypatch.setattr(training.loop, "save_checkpoint", real_save)

    resumed, result = train("mnist", checkpoint=path, resume=True, epochs=3, patience=10)
    assert result.resumed_from_epoch == 1 and result.epochs_run == 3
    assert len(result.history.val_loss) == 3
    assert same_weights(resumed, uninterrupted)


def test_resume_with_augmentation_replays_the_same_jitter_and_swaps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders = torch.randint(0, 256, (300, 2, 28, 28), generator=torch.Generator().manual_seed(0))
    aug = Digits((28, 28), Jitter(elastic=2.0), renders=renders.to(torch.uint8), share=0.5)
    uninterrupted, _ = train("mnist", epochs=3, patience=10, augmentation=aug)

    path = tmp_path / "last.pt"
    real_save = training.loop.save_checkpoint

    def save_then_crash(p: Path, state: dict[str, Any]) -> None:
        real_save(p, state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt("simulated crash after epoch 2")

    monkeypatch.setattr(training.loop, "save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train("mnist", checkpoint=path, epochs=3, patience=10, augmentation=aug)
    monkeypatch.setattr(training.loop, "save_checkpoint", real_save)

    resumed, _ = train(
        "mnist", checkpoint=path, resume=True, epochs=3, patience=10, augmentation=aug
    )
    assert same_weights(resumed, uninterrupted)


def test_resume_without_a_checkpoint_starts_from_scratch(tmp_path: Path) -> None:
    _, result = train("coffee", checkpoint=tmp_path / "none.pt", resume=True, epochs=1)
    assert result.resumed_from_epoch == 0 and result.epochs_run == 1


def test_resume_refuses_a_checkpoint_with_another_configuration(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    train("coffee", checkpoint=path, epochs=1)
    with pytest.raises(CheckpointError, match=r"does not match this run \(config"):
        train("coffee", checkpoint=path, resume=True, epochs=1, lr=0.5)


def test_resume_refuses_a_corrupt_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        train("coffee", checkpoint=path, resume=True, epochs=1)


def test_config_overrides_ignore_unset_values() -> None:
    base = get_task("mnist").config
    assert base.with_overrides(epochs=None, lr=0.5) == dataclasses.replace(base, lr=0.5)
