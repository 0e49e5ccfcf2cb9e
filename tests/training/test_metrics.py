"""Held-out metrics, checked against hand-worked examples and brute-force definitions."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import (
    accuracy,
    compute_metrics,
    exact_match,
    macro_f1,
    micro_f1,
    precision,
    recall,
    roc_auc,
)


def pairwise_auc(y: np.ndarray, s: np.ndarray) -> float:
    """The definition: P(score of a positive > score of a negative), ties counting half."""
    pos, neg = s[y == 1], s[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def test_binary_counts_from_a_worked_example() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    assert accuracy(y, p) == pytest.approx(5 / 8)
    assert precision(y, p) == pytest.approx(2 / 3)
    assert recall(y, p) == pytest.approx(2 / 4)


def test_precision_with_no_positive_prediction_is_zero_not_nan() -> None:
    assert precision(np.array([1, 0]), np.array([0, 0])) == 0.0


def test_roc_auc_equals_the_pairwise_definition_with_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + y, 1)  # rounding makes many ties
    assert roc_auc(y, scores) == pytest.approx(pairwise_auc(y, scores))


def test_roc_auc_of_perfect_and_reversed_rankings() -> None:
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0


def test_roc_auc_with_one_class_is_undefined() -> None:
    assert roc_auc(np.array([1, 1]), np.array([0.2, 0.4])) is None


def test_multilabel_f1_and_exact_match_from_a_worked_example() -> None:
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    p = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1]])
    # tp = 4, fp = 1, fn = 1 over all cells
    assert micro_f1(y, p) == pytest.approx(8 / 10)
    # per label: [1, 1, 0] -> F1 1.0, 1.0, 0.0
    assert macro_f1(y, p) == pytest.approx(2 / 3)
    assert exact_match(y, p) == pytest.approx(1 / 3)


def test_compute_metrics_names_per_task_kind() -> None:
    logits = np.array([[2.0, 0.1], [0.3, 1.0]])
    assert compute_metrics("multiclass", logits, np.array([0, 1])) == {"accuracy": 1.0}
    binary = compute_metrics("binary", np.array([[3.0], [-2.0]]), np.array([1, 0]), 0.5)
    assert set(binary) == {"accuracy", "precision", "recall", "roc_auc"}
    signed = np.array([[2.0, -1.0], [-0.3, 1.0]])
    multilabel = compute_metrics("multilabel", signed, np.array([[1, 0], [0, 1]]), 0.5)
    assert multilabel == {"micro_f1": 1.0, "macro_f1": 1.0, "exact_match": 1.0}


def test_threshold_is_applied_to_the_probability() -> None:
    # sigmoid(0.5) ~ 0.62: positive at threshold 0.5, negative at 0.7
    logits = np.array([[0.5]])
    y = np.array([1])
    assert compute_metrics("binary", logits, y, 0.5)["recall"] == 1.0
    assert compute_metrics("binary", logits, y, 0.7)["recall"] == 0.0
