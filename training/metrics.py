"""Held-out metrics and calibration, from scikit-learn where it has them.

The names are the manifest's: ``accuracy`` (multiclass); ``accuracy``, ``precision``,
``recall``, ``roc_auc`` (binary); ``micro_f1``, ``macro_f1``, ``exact_match`` (multilabel).
A ratio with an empty denominator is 0.0 (scikit-learn's ``zero_division=0``); ROC AUC with
only one class present is undefined and reported as ``None``.

Calibration: expected calibration error (ECE) over ``ECE_BINS`` equal-width bins of the
confidence; the number and the reliability diagram come from the same bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

Metrics = dict[str, float | None]

ECE_BINS = 15


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.accuracy_score(y_true, y_pred)) if len(y_true) else 0.0


def precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.precision_score(y_true, y_pred, zero_division=0))


def recall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.recall_score(y_true, y_pred, zero_division=0))


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Probability that a random positive outranks a random negative; None with one class."""
    if len(np.unique(y_true)) < 2:
        return None
    return float(skm.roc_auc_score(y_true, scores))


def micro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.f1_score(y_true, y_pred, average="micro", zero_division=0))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))


def exact_match(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of rows whose whole label set is predicted exactly (subset accuracy)."""
    return accuracy(y_true, y_pred)


@dataclass(frozen=True)
class Reliability:
    """Per non-empty bin: mean confidence, observed frequency, and how many samples."""

    confidence: np.ndarray
    frequency: np.ndarray
    count: np.ndarray

    @property
    def ece(self) -> float:
        total = int(self.count.sum())
        if not total:
            return 0.0
        return float(np.sum(self.count / total * np.abs(self.frequency - self.confidence)))


def reliability(confidence: np.ndarray, outcome: np.ndarray, bins: int = ECE_BINS) -> Reliability:
    """Bin ``confidence`` (probabilities) against ``outcome`` (0/1: did it happen).

    The bins are scikit-learn's ``calibration_curve(strategy="uniform")`` bins, computed here
    because ECE needs each bin's count, which it does not return (a test checks the two agree).
    """
    confidence = np.asarray(confidence, dtype=np.float64).reshape(-1)
    outcome = np.asarray(outcome, dtype=np.float64).reshape(-1)
    ids = np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], confidence)
    count = np.bincount(ids, minlength=bins)
    kept = count > 0
    return Reliability(
        confidence=np.bincount(ids, weights=confidence, minlength=bins)[kept] / count[kept],
        frequency=np.bincount(ids, weights=outcome, minlength=bins)[kept] / count[kept],
        count=count[kept],
    )


def expected_calibration_error(
    confidence: np.ndarray, outcome: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Sum over bins of (share of samples) x |frequency - mean confidence|."""
    return reliability(confidence, outcome, bins).ece
