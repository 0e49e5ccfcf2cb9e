"""The numpy reference forward pass: the course's dense layer, and the shipped graphs against it."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training.reference import dense, linear, mlp_forward, relu, sequential, sigmoid
from training.export import onnx_logits
from training.nets import MLP
from training.pipeline import TrainReport
from training.tasks import get_task

A = np.array([[200, 17]])
W = np.array([[1, -3, 5], [-2, 4, -6]])
B = np.array([[-1, 1, 2]])


def test_dense_reproduces_the_course_example_pre_activation() -> None:
    np.testing.assert_array_equal(dense(A, W, B, linear), [[165, -531, 900]])


def test_dense_with_sigmoid_rounds_to_the_course_result() -> None:
    np.testing.assert_array_equal(np.round(dense(A, W, B, sigmoid)), [[1, 0, 1]])


def test_dense_is_vectorized_over_rows() -> None:
    rows = np.array([[200, 17], [1, 2]])
    np.testing.assert_array_equal(dense(rows, W, B, linear), [[165, -531, 900], [-4, 6, -5]])


def test_sequential_chains_dense_layers_in_order() -> None:
    w2 = np.array([[1.0], [2.0], [-1.0]])
    b2 = np.array([[0.5]])
    layers = [(W, B, relu), (w2, b2, linear)]
    expected = dense(dense(A, W, B, relu), w2, b2, linear)
    np.testing.assert_array_equal(sequential(A, layers), expected)
    assert sequential(A, layers).item() == pytest.approx(165 - 900 + 0.5)


def test_sigmoid_is_stable_for_large_magnitudes() -> None:
    with np.errstate(over="raise"):
        out = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0])


@pytest.mark.parametrize("name", ["mnist", "tshirt", "coffee"])
def test_exported_mlp_matches_numpy_forward_pass_from_its_own_weights(
    name: str, published: dict[str, TrainReport]
) -> None:
    report = published[name]
    assert isinstance(report.model, MLP)
    x = get_task(name).load_data(None).validation.x
    onnx_out = onnx_logits(report.published.path / "model.onnx", x)
    reference = mlp_forward(report.model, x)
    # The reference includes the in-graph scaling: raw pixels / natural units go in.
    np.testing.assert_allclose(onnx_out, reference, atol=1e-4, rtol=0)
