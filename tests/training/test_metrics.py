"""Held-out metrics and calibration error, checked against hand-worked examples, brute-force
definitions and scikit-learn's own calibration curve."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from training.metrics import (
    accuracy,
    exact_match,
    expected_calibration_error,
    macro_f1,
    micro_f1,
    precision,
    recall,
    reliability,
    roc_auc,
)
from training.tasks.kinds import BINARY, MULTICLASS, MULTILABEL


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


def test_each_kind_names_its_metrics() -> None:
    logits = np.array([[2.0, 0.1], [0.3, 1.0]])
    assert MULTICLASS.metrics(logits, np.array([0, 1]), None) == {"accuracy": 1.0}
    binary = BINARY.metrics(np.array([[3.0], [-2.0]]), np.array([1, 0]), 0.5)
    assert set(binary) == {"accuracy", "precision", "recall", "roc_auc"}
    signed = np.array([[2.0, -1.0], [-0.3, 1.0]])
    multilabel = MULTILABEL.metrics(signed, np.array([[1, 0], [0, 1]]), 0.5)
    assert multilabel == {"micro_f1": 1.0, "macro_f1": 1.0, "exact_match": 1.0}


def test_threshold_is_applied_to_the_probability() -> None:
    # sigmoid(0.5) ~ 0.62: positive at threshold 0.5, negative at 0.7
    logits = np.array([[0.5]])
    y = np.array([1])
    assert BINARY.metrics(logits, y, 0.5)["recall"] == 1.0
    assert BINARY.metrics(logits, y, 0.7)["recall"] == 0.0


def test_ece_from_a_worked_example() -> None:
    # Bin [0.8, 0.867): 0.8, 0.8 stated, one right -> |0.5 - 0.8| = 0.3, weight 2/4.
    # Bin [0.933, 1.0]: 0.95, 0.95 stated, both right -> |1.0 - 0.95| = 0.05, weight 2/4.
    confidence = np.array([0.8, 0.8, 0.95, 0.95])
    outcome = np.array([1, 0, 1, 1])
    assert expected_calibration_error(confidence, outcome) == pytest.approx(0.5 * 0.3 + 0.5 * 0.05)


def test_ece_of_a_calibrated_source_is_small_and_of_an_overconfident_one_is_not() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.5, 1.0, 50_000)
    happened = rng.random(50_000) < p
    assert expected_calibration_error(p, happened) < 0.01
    # Stating 0.99 for events that happen with probability p (mean 0.75) is 0.24 off.
    assert expected_calibration_error(np.full_like(p, 0.99), happened) == pytest.approx(
        0.24, abs=0.01
    )


def test_reliability_bins_are_scikit_learns_calibration_curve_bins() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(2000) ** 0.3  # skewed towards 1, as a good classifier's confidences are
    happened = rng.random(2000) < p
    bins = reliability(p, happened, bins=15)
    frequency, mean = calibration_curve(happened, p, n_bins=15, strategy="uniform")
    np.testing.assert_allclose(bins.frequency, frequency)
    np.testing.assert_allclose(bins.confidence, mean)
    assert bins.count.sum() == 2000


def test_ece_of_nothing_is_zero() -> None:
    assert expected_calibration_error(np.zeros(0), np.zeros(0)) == 0.0
