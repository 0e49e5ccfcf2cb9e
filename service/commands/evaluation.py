"""A task's metrics on held-out data, from the probabilities the service computes: the
numbers the manifest records and the promotion gate compares, with the names training uses
(docs/model-repository.md): accuracy (multiclass); accuracy, precision, recall, roc_auc
(binary); micro_f1, macro_f1, exact_match (multilabel). numpy only."""

from __future__ import annotations

import numpy as np


def metrics(
    task: str, probabilities: np.ndarray, truth: np.ndarray, threshold: float | None
) -> dict[str, float | None]:
    """`probabilities` as the service answers them ((n, K); binary (n, 1)); `truth`: class
    indices (multiclass, binary) or a 0/1 matrix (multilabel)."""
    if task == "multiclass":
        return {"accuracy": float(np.mean(np.argmax(probabilities, axis=1) == truth))}
    cut = 0.5 if threshold is None else threshold
    if task == "binary":
        scores = probabilities.reshape(-1)
        chosen = scores >= cut
        actual = truth.reshape(-1).astype(bool)
        true_positives = float(np.sum(chosen & actual))
        return {
            "accuracy": float(np.mean(chosen == actual)),
            "precision": true_positives / max(float(np.sum(chosen)), 1.0),
            "recall": true_positives / max(float(np.sum(actual)), 1.0),
            "roc_auc": roc_auc(scores, actual),
        }
    chosen = probabilities >= cut
    actual = truth.astype(bool)
    tp = np.sum(chosen & actual, axis=0).astype(float)
    fp = np.sum(chosen & ~actual, axis=0).astype(float)
    fn = np.sum(~chosen & actual, axis=0).astype(float)
    micro = 2 * tp.sum() / max(2 * tp.sum() + fp.sum() + fn.sum(), 1.0)
    per_label = 2 * tp / np.maximum(2 * tp + fp + fn, 1.0)
    return {
        "micro_f1": float(micro),
        "macro_f1": float(per_label.mean()),
        "exact_match": float(np.mean(np.all(chosen == actual, axis=1))),
    }


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """The probability that a positive scores above a negative (ties count half): the
    Mann-Whitney statistic from average ranks. None with a single class."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    average_rank = last - (counts - 1) / 2.0  # 1-based ranks, ties averaged
    ranks = average_rank[inverse]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
