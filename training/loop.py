"""The generic training loop: any model, any task kind, one process or many under torchrun.

Fast on a small CPU by design: the data is turned into tensors once (no DataLoader for a
few megabytes in memory), each epoch gathers its shuffled rows with one index operation and
slices batches as views, and nothing forces a per-step ``.item()``: losses stay tensors
until the epoch ends.

Under torchrun each rank trains on its own shard of every epoch's permutation, with
``batch_size / world_size`` rows per step, so ``--batch-size`` stays the global batch and a
run with N processes follows the hyper-parameters of a run with one. Rank 0 alone
validates, checkpoints and shows progress; it decides when to stop, for everyone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from training.augment import Augmentation
from training.checkpoint import check_compatible, load_checkpoint, save_checkpoint
from training.config import TrainConfig
from training.data.splits import Dataset, Split
from training.distributed import DistContext, broadcast_object, mean_over_ranks, rank0_decides
from training.metrics import Metrics
from training.tasks.spec import Task

EVAL_BATCH = 2048


@dataclass
class History:
    """Per-epoch curves, for the learning-curve plot and the manifest."""

    metric: str
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class TrainResult:
    history: History
    epochs_run: int
    best_epoch: int  # 1-based, as people count epochs
    duration_s: float
    resumed_from_epoch: int

    @property
    def seconds_per_epoch(self) -> float:
        """Mean wall time of an epoch: training steps and validation (not the checkpoint)."""
        return float(np.mean(self.history.epoch_seconds)) if self.history.epoch_seconds else 0.0

    @property
    def train_seconds_per_epoch(self) -> float:
        """Mean wall time of the training steps alone."""
        return float(np.mean(self.history.train_seconds)) if self.history.train_seconds else 0.0


@dataclass
class Best:
    """The best validation epoch so far (lowest loss): its number, its weights, and how many
    epochs have passed without a better one (early stopping's count)."""

    loss: float = math.inf
    epoch: int = 0
    state: dict[str, Tensor] | None = None
    bad_epochs: int = 0

    def update(self, val_loss: float, epoch: int, model: nn.Module) -> None:
        if val_loss < self.loss:
            self.loss, self.epoch, self.state, self.bad_epochs = val_loss, epoch, _clone(model), 0
        else:
            self.bad_epochs += 1


class _Run:
    """One run's fixed parts: the training tensors on the device, this rank's share of every
    epoch, the optimizer and schedule, the loss, and what a checkpoint must match."""

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        data: Dataset,
        config: TrainConfig,
        seed: int,
        ctx: DistContext,
        augmentation: Augmentation | None,
    ) -> None:
        self.model, self.config, self.seed, self.ctx = model, config, seed, ctx
        self.augmentation = augmentation
        device = ctx.device
        model.to(device)
        self.x = as_tensor(data.train.x).to(device)
        self.y = task.kind.targets(data.train.y).to(device)
        self.n_local = len(self.x) // ctx.world_size
        self.local_batch = max(1, math.ceil(config.batch_size / ctx.world_size))
        steps_per_epoch = math.ceil(self.n_local / self.local_batch)
        self.optimizer = _optimizer(model, config, device)
        self.scheduler = (
            torch.optim.lr_scheduler.OneCycleLR(
                self.optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch
            )
            if config.schedule == "onecycle"
            else None
        )
        self.loss_fn = task.kind.loss(config.label_smoothing)
        self.identity = {
            "task": task.name,
            "config": config.to_dict(),
            "seed": seed,
            "rows": len(self.x),
        }
        if "sha256" in data.info:
            # Your own data: a folder edited since the checkpoint, same size or not, is new data.
            self.identity["data_sha256"] = data.info["sha256"]
        self.train_model: nn.Module = model
        if ctx.distributed:
            self.train_model = DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )

    def train_epoch(self, epoch: int) -> float:
        """One epoch over this rank's share; the mean training loss over every rank."""
        ctx = self.ctx
        # The permutation depends on (seed, epoch) only: a resumed run replays the same order.
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.x), generator=generator)
        mine = order[ctx.rank :: ctx.world_size][: self.n_local].to(ctx.device)
        xs, ys = self.x[mine], self.y[mine]
        if self.augmentation is not None:
            xs, ys = self.augmentation(mine, xs, ys, generator)
        loss_sum = _train_one_epoch(
            self.train_model, self.loss_fn, self.optimizer, self.scheduler, xs, ys, self.local_batch
        )
        return float(mean_over_ranks(ctx, loss_sum / self.n_local).item())

    def resume(self, path: Path, state: dict[str, Any]) -> tuple[int, bool, History, Best]:
        """Weights, optimizer and schedule from a checkpoint; (epoch, stopped, history, best)."""
        check_compatible(path, state, self.identity)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        return state["epoch"], state["stopped"], History(**state["history"]), Best(**state["best"])

    def save(self, path: Path, epoch: int, stopped: bool, history: History, best: Best) -> None:
        scheduler = self.scheduler.state_dict() if self.scheduler is not None else None
        save_checkpoint(
            path,
            {
                **self.identity,
                "epoch": epoch,
                "stopped": stopped,
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": scheduler,
                "history": vars(history),
                "best": vars(best),
            },
        )


def fit(
    model: nn.Module,
    task: Task,
    data: Dataset,
    config: TrainConfig,
    *,
    seed: int,
    ctx: DistContext,
    augmentation: Augmentation | None = None,
    checkpoint_file: Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train ``model`` in place; on return it holds the best validation epoch's weights."""
    started = time.perf_counter()
    run = _Run(model, task, data, config, seed, ctx, augmentation)
    history, best = History(metric=task.kind.primary_metric), Best()
    start_epoch, stopped = 0, False
    state = _read_checkpoint(ctx, checkpoint_file) if resume else None
    if state is not None and checkpoint_file is not None:
        start_epoch, stopped, history, best = run.resume(checkpoint_file, state)

    bar = tqdm(
        total=config.epochs,
        initial=start_epoch,
        desc=task.name,
        unit="epoch",
        disable=not (progress and ctx.is_main),
        dynamic_ncols=True,
    )
    epoch = start_epoch
    while epoch < config.epochs and not stopped:
        epoch_started = time.perf_counter()
        train_loss = run.train_epoch(epoch)
        train_seconds = time.perf_counter() - epoch_started
        epoch += 1
        if ctx.is_main:
            val_loss, metrics = evaluate(model, task, data.validation, ctx.device)
            history.train_loss.append(train_loss)
            history.val_loss.append(val_loss)
            history.val_metric.append(float(metrics[history.metric] or 0.0))
            best.update(val_loss, epoch, model)
            stopped = best.bad_epochs >= config.patience and epoch >= config.min_epochs
            history.train_seconds.append(train_seconds)
            history.epoch_seconds.append(time.perf_counter() - epoch_started)
            if checkpoint_file is not None:
                run.save(checkpoint_file, epoch, stopped, history, best)
            bar.set_postfix(
                loss=f"{train_loss:.4f}",
                val_loss=f"{val_loss:.4f}",
                **{history.metric: f"{history.val_metric[-1]:.4f}"},
            )
            bar.update(1)
        stopped = rank0_decides(ctx, stopped)
    bar.close()

    if ctx.is_main and best.state is not None:
        model.load_state_dict(best.state)
    model.eval()
    return TrainResult(
        history=history,
        epochs_run=epoch,
        best_epoch=best.epoch,
        duration_s=time.perf_counter() - started,
        resumed_from_epoch=start_epoch,
    )


def _train_one_epoch(
    model: nn.Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    xs: Tensor,
    ys: Tensor,
    batch: int,
) -> Tensor:
    """One pass over ``xs`` in batches; returns the summed loss, still a tensor (no sync)."""
    model.train()
    losses: list[Tensor] = []
    for start in range(0, len(xs), batch):
        xb, yb = xs[start : start + batch], ys[start : start + batch]
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.detach() * len(xb))
    return torch.stack(losses).sum()


def evaluate(
    model: nn.Module, task: Task, split: Split, device: torch.device
) -> tuple[float, Metrics]:
    """Loss and metrics of ``model`` on ``split`` (in eval mode: batch norm's running stats)."""
    logits = predict_logits(model, split.x, device)
    loss = float(task.kind.loss()(torch.from_numpy(logits), task.kind.targets(split.y)).item())
    return loss, task.kind.metrics(logits, split.y, task.threshold)


def predict_logits(model: nn.Module, x: np.ndarray, device: torch.device) -> np.ndarray:
    """float32 logits of raw inputs ``x``, in bounded chunks, with the model in eval mode."""
    model.eval()
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(x), EVAL_BATCH):
            xb = as_tensor(x[start : start + EVAL_BATCH])
            chunks.append(model(xb.to(device)).float().cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


def as_tensor(x: np.ndarray) -> Tensor:
    """A tensor over ``x`` (copied only if it is strided or read-only, which torch refuses)."""
    return torch.from_numpy(np.require(x, requirements=["C_CONTIGUOUS", "WRITEABLE"]))


def _optimizer(
    model: nn.Module, config: TrainConfig, device: torch.device
) -> torch.optim.Optimizer:
    # fused=True: one kernel for all parameters; on small models the per-parameter Python
    # loop of the default implementation costs more than the arithmetic.
    if config.optimizer == "adamw":
        return torch.optim.AdamW(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
        )
    return torch.optim.Adam(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )


def _clone(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _read_checkpoint(ctx: DistContext, path: Path | None) -> dict[str, Any] | None:
    state = load_checkpoint(path) if (ctx.is_main and path is not None) else None
    return broadcast_object(ctx, state)
