"""The learning curve saved beside each published model (for people, not for the service)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on training machines

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from training.loop import History  # noqa: E402


def plot_learning_curve(history: History, path: Path, title: str, best_epoch: int) -> None:
    """Loss (train and validation) and the validation metric per epoch, as a small PNG."""
    epochs = range(1, len(history.train_loss) + 1)
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=80)
    try:
        loss_ax.plot(epochs, history.train_loss, label="train")
        loss_ax.plot(epochs, history.val_loss, label="validation")
        loss_ax.set(xlabel="epoch", ylabel="loss", title=f"{title}: loss")
        metric_ax.plot(epochs, history.val_metric, color="tab:orange")
        metric_ax.set(
            xlabel="epoch",
            ylabel=f"validation {history.metric}",
            title=f"{title}: validation {history.metric}",
        )
        for ax in (loss_ax, metric_ax):
            if best_epoch:
                ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best ({best_epoch})")
            ax.grid(alpha=0.3)
        loss_ax.legend()
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
