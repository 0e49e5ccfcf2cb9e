"""Softmax and sigmoid from logits, stable for logits of any size (the point of from_logits)."""

from __future__ import annotations

import warnings

import numpy as np

from service.protocol.activations import sigmoid, softmax


def test_softmax_rows_sum_to_one_and_keep_the_order() -> None:
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    p = softmax(logits)
    assert np.allclose(p.sum(axis=1), 1)
    assert np.allclose(p[1], 1 / 3)
    assert (np.argsort(p[0]) == [0, 1, 2]).all()


def test_huge_logits_give_clean_zeros_and_ones_without_warnings() -> None:
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            p = softmax(logits)
            s = sigmoid(logits)
    assert np.isfinite(p).all() and np.isfinite(s).all()
    assert p.tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert s.tolist() == [[1.0, 0.0, 0.5], [0.0, 0.0, 1.0]]


def test_sigmoid_matches_the_textbook_formula_where_that_is_safe() -> None:
    z = np.linspace(-20, 20, 101, dtype=np.float32).reshape(1, -1)
    assert np.allclose(sigmoid(z), 1 / (1 + np.exp(-z.astype(np.float64))), atol=1e-7)
    assert sigmoid(z).dtype == np.float32
