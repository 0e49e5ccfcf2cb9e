"""The report's figures (matplotlib, PNG): small, labelled, readable without the code.

Each function takes plain arrays and a path, draws one figure and closes it; none of them
knows about tasks or training, so any of them can be tried on made-up numbers.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only: no display on training machines

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib import ticker  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

DPI = 90


def _save(fig: Figure, path: Path, tight: bool = False) -> None:
    try:
        fig.tight_layout()
        fig.savefig(path, format="png", dpi=DPI, bbox_inches="tight" if tight else None)
    finally:
        plt.close(fig)


def learning_curve(
    train_loss: Sequence[float],
    val_loss: Sequence[float],
    val_metric: Sequence[float],
    metric: str,
    best_epoch: int,
    path: Path,
    title: str,
    augmented: bool = False,
) -> None:
    """Loss (train and validation) and the validation metric per epoch."""
    epochs = range(1, len(train_loss) + 1)
    fig, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
    loss_ax.plot(epochs, train_loss, label="train (augmented)" if augmented else "train")
    loss_ax.plot(epochs, val_loss, label="validation")
    loss_ax.set(xlabel="epoch", ylabel="loss", title=f"{title}: loss")
    metric_ax.plot(epochs, val_metric, color="tab:orange")
    metric_ax.set(xlabel="epoch", ylabel=f"validation {metric}", title=f"{title}: {metric}")
    for ax in (loss_ax, metric_ax):
        if best_epoch:
            ax.axvline(best_epoch, color="grey", linestyle=":", label=f"kept epoch ({best_epoch})")
        ax.grid(alpha=0.3)
    loss_ax.legend()
    _save(fig, path)


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str], path: Path, title: str
) -> None:
    """Counts of true (rows) against predicted (columns); the diagonal is right."""
    matrix = skm.confusion_matrix(y_true, y_pred, labels=range(len(labels)))
    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    off_diagonal = matrix * (1 - np.eye(len(labels), dtype=matrix.dtype))
    ax.imshow(off_diagonal, cmap="Reds", vmin=0, vmax=max(1, int(off_diagonal.max())))
    dark = 0.6 * max(1, int(off_diagonal.max()))
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            bold = "bold" if i == j else "normal"
            color = "white" if i != j and count > dark else "black"
            ax.text(j, i, str(count), ha="center", va="center", size=8, weight=bold, color=color)
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title(f"{title}: confusion matrix (test, {len(y_true)})\nred: mistakes", fontsize=10)
    _save(fig, path)


def roc_curve(
    y_true: np.ndarray, scores: np.ndarray, positive: str, path: Path, title: str
) -> None:
    """True positive rate against false positive rate over every threshold."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    if len(np.unique(y_true)) == 2:
        fpr, tpr, _ = skm.roc_curve(y_true, scores)
        auc = skm.roc_auc_score(y_true, scores)
        ax.plot(fpr, tpr, label=f"ROC AUC {auc:.4f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title(f"{title}: ROC for '{positive}' (test, {len(y_true)})", fontsize=10)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    _save(fig, path)


def per_label(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str], path: Path, title: str
) -> None:
    """Precision and recall of each label as paired bars."""
    precision, recall, _, support = skm.precision_recall_fscore_support(
        y_true, y_pred, zero_division=0
    )
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    ax.bar(x - 0.2, precision, 0.4, label="precision")
    ax.bar(x + 0.2, recall, 0.4, label="recall")
    ax.set_xticks(x, [f"{label}\n({n})" for label, n in zip(labels, support, strict=True)])
    low = min(float(np.min(precision)), float(np.min(recall)), 0.9)
    ax.set(ylim=(max(0.0, low - 0.02), 1.0), ylabel="on the test split")
    ax.set_xlabel("label (positives in the test split)", labelpad=2)
    ax.set_title(f"{title}: precision and recall per label", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncols=2)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def reliability_diagram(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    ece: Mapping[str, float],
    path: Path,
    title: str,
) -> None:
    """Observed frequency against stated confidence per bin; the diagonal is calibrated.

    ``curves[name] = (mean confidence, frequency, count)`` per non-empty bin.
    """
    fig, (ax, hist) = plt.subplots(
        2, 1, figsize=(4.8, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for (name, (confidence, frequency, count)), marker in zip(curves.items(), "os", strict=False):
        ax.plot(confidence, frequency, marker=marker, label=f"{name} (ECE {ece[name]:.3f})")
        hist.bar(confidence, count, width=1 / 30, alpha=0.5, label=name)
    ax.set(ylabel="observed frequency", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title(f"{title}: reliability (test split)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    hist.set_yscale("log")
    hist.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    hist.yaxis.set_minor_formatter(ticker.NullFormatter())
    hist.set(xlabel="stated confidence", ylabel="samples (log)")
    _save(fig, path)


def robustness_bars(
    accuracy: Mapping[str, float],
    target: float | None,
    path: Path,
    title: str,
    unseen: Collection[str] = (),
) -> None:
    """Accuracy per condition, clean first, with the target as a line; the conditions the
    model was never trained on (``unseen``) in orange, without a target."""
    names = list(accuracy)
    values = [accuracy[n] for n in names]
    colours = [
        "tab:green" if i == 0 else "tab:orange" if n in unseen else "tab:blue"
        for i, n in enumerate(names)
    ]
    fig, ax = plt.subplots(figsize=(8.5, 3.6))
    bars = ax.bar(range(len(names)), values, color=colours)
    for bar, value in zip(bars, values, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, value, f"{value:.1%}", ha="center", va="bottom")
    low = min(values) - 0.1
    heading = f"{title}: accuracy per upload condition (test split)"
    if target is not None:
        ax.axhline(target, color="tab:red", linestyle="--")
        heading += f"\nred dashes: the target of each condition trained on, {target:.0%}"
        if unseen:
            heading += "; orange: never trained on"
        low = min(low, target - 0.05)
    ax.set_xticks(range(len(names)), [n.replace("_", "\n") for n in names], fontsize=8)
    ax.set(ylim=(max(0.0, low), 1.04), ylabel="test accuracy")
    ax.yaxis.set_major_formatter(ticker.PercentFormatter(1.0))
    ax.set_title(heading, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def mistakes_gallery(
    images: np.ndarray, captions: Sequence[str], path: Path, title: str, columns: int = 4
) -> None:
    """Images (n, H, W) with a caption each, in a grid; light ink on dark, as the model sees."""
    count = max(1, len(images))
    rows = -(-count // columns)
    aspect = images.shape[2] / images.shape[1] if len(images) else 1.0
    fig, axes = plt.subplots(
        rows, columns, figsize=(columns * 1.9 * max(1.0, aspect / 1.5), rows * 2.1), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions, strict=False):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(caption, fontsize=8)
    if not len(images):
        axes.flat[0].text(0.5, 0.5, "no mistakes on the test split", ha="center", va="center")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def mistakes_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], path: Path, title: str
) -> None:
    """The worst mistakes of a tabular model as a table (their inputs are numbers, not images)."""
    height = 0.34 * (len(rows) + 1) + 0.5
    fig, ax = plt.subplots(figsize=(1.3 * len(header) + 0.4, height))
    ax.axis("off")
    if rows:
        # The table fills the axes: every row, the two-line header too, gets the same height.
        table = ax.table(
            cellText=[list(r) for r in rows],
            colLabels=list(header),
            bbox=Bbox.from_bounds(0, 0, 1, 1),
        )
        table.auto_set_font_size(False)
        table.set_fontsize(8)
    else:
        ax.text(0.5, 0.5, "no mistakes on the test split", ha="center", va="center")
    ax.set_title(title, fontsize=10)
    _save(fig, path, tight=True)
