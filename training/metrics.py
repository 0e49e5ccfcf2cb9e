"""Held-out metrics from logits, in numpy (no scikit-learn needed for a handful of formulas).

The names are the manifest's: ``accuracy`` (multiclass); ``accuracy``, ``precision``,
``recall``, ``roc_auc`` (binary); ``micro_f1``, ``macro_f1``, ``exact_match`` (multilabel).
A ratio with an empty denominator is 0.0, as scikit-learn's ``zero_division=0``; ROC AUC with
only one class present is undefined and reported as ``None``.
"""

from __future__ import annotations

import numpy as np

from training.tasks.spec import TaskKind

Metrics = dict[str, float | None]

PRIMARY_METRIC: dict[str, str] = {
    "multiclass": "accuracy",
    "binary": "accuracy",
    "multilabel": "micro_f1",
}


def compute_metrics(
    kind: TaskKind, logits: np.ndarray, y: np.ndarray, threshold: float | None = None
) -> Metrics:
    """The task's metrics for ``logits`` (n, K) against labels as stored in a ``Split``."""
    if kind == "multiclass":
        return {"accuracy": accuracy(y, logits.argmax(axis=1))}
    # sigmoid(z) >= t  <=>  z >= logit(t): decide on logits, no overflow for large |z|.
    cut = float(np.log(threshold / (1 - threshold))) if threshold is not None else 0.0
    if kind == "binary":
        scores = logits.reshape(-1)
        predicted = (scores >= cut).astype(np.int64)
        return {
            "accuracy": accuracy(y, predicted),
            "precision": precision(y, predicted),
            "recall": recall(y, predicted),
            "roc_auc": roc_auc(y, scores),
        }
    predicted = (logits >= cut).astype(np.int64)
    return {
        "micro_f1": micro_f1(y, predicted),
        "macro_f1": macro_f1(y, predicted),
        "exact_match": exact_match(y, predicted),
    }


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred)) if len(y_true) else 0.0


def precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    tp = int(np.sum((y_pred == 1) & (y_true == 1)))
    return _ratio(tp, int(np.sum(y_pred == 1)))


def recall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    tp = int(np.sum((y_pred == 1) & (y_true == 1)))
    return _ratio(tp, int(np.sum(y_true == 1)))


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Probability that a random positive outranks a random negative (ties count half).

    The Mann-Whitney U statistic from average ranks, so equal scores are handled exactly.
    """
    positives = y_true == 1
    n_pos = int(positives.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(scores)
    u = ranks[positives].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def micro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    tp = int(np.sum((y_pred == 1) & (y_true == 1)))
    fp = int(np.sum((y_pred == 1) & (y_true == 0)))
    fn = int(np.sum((y_pred == 0) & (y_true == 1)))
    return _ratio(2 * tp, 2 * tp + fp + fn)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    per_label = [micro_f1(y_true[:, k], y_pred[:, k]) for k in range(y_true.shape[1])]
    return float(np.mean(per_label))


def exact_match(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of rows whose whole label set is predicted exactly."""
    return float(np.mean(np.all(y_true == y_pred, axis=1))) if len(y_true) else 0.0


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of the ranks they span."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # Boundaries of runs of equal values in sorted order.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0  # mean of the 1-based ranks start+1 .. end
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks
