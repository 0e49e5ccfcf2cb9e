"""The service's metrics for bring-your-own graphs (numpy only: the serve install has no
scikit-learn) agree with scikit-learn's, which training's metrics use: a version published
with `logitserve publish --eval` is compared by the promotion gate with trained ones."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from service.commands import evaluation


@pytest.mark.parametrize("seed", range(5))
def test_multiclass_accuracy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    probabilities = rng.dirichlet(np.ones(10), size=300)
    truth = rng.integers(0, 10, 300)
    got = evaluation.metrics("multiclass", probabilities, truth, None)
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(truth, probabilities.argmax(1)))


@pytest.mark.parametrize("seed", range(5))
def test_binary_metrics_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 400)
    # Rounded to two places: many tied scores, which ROC AUC must count as halves.
    scores = np.round(np.clip(truth * 0.3 + rng.random(400) * 0.7, 0, 1), 2).reshape(-1, 1)
    got = evaluation.metrics("binary", scores, truth, 0.4)
    chosen = scores.reshape(-1) >= 0.4
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(truth, chosen))
    assert got["precision"] == pytest.approx(sk.precision_score(truth, chosen))
    assert got["recall"] == pytest.approx(sk.recall_score(truth, chosen))
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(truth, scores.reshape(-1)))


def test_roc_auc_is_none_with_one_class() -> None:
    got = evaluation.metrics("binary", np.full((5, 1), 0.7), np.ones(5, int), None)
    assert got["roc_auc"] is None


@pytest.mark.parametrize("seed", range(5))
def test_multilabel_f1_and_exact_match(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = (rng.random((300, 10)) < 0.2).astype(int)
    probabilities = np.clip(truth * 0.5 + rng.random((300, 10)) * 0.6, 0, 1)
    got = evaluation.metrics("multilabel", probabilities, truth, 0.5)
    chosen = (probabilities >= 0.5).astype(int)
    assert got["micro_f1"] == pytest.approx(sk.f1_score(truth, chosen, average="micro"))
    assert got["macro_f1"] == pytest.approx(
        sk.f1_score(truth, chosen, average="macro", zero_division=0)
    )
    assert got["exact_match"] == pytest.approx(sk.accuracy_score(truth, chosen))
