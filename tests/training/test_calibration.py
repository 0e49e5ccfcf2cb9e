"""Temperature scaling: fitted on validation logits, folded into the last layer, exported."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from training.calibration import fit_temperature, fold_temperature, logits_layer
from training.export import export_onnx, onnx_logits, parity_gate
from training.loop import predict_logits
from training.metrics import expected_calibration_error
from training.pipeline import TrainReport
from training.tasks import get_task
from training.tasks.kinds import BINARY, MULTICLASS, MULTILABEL


def calibrated_logits(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from the softmax of those very logits: calibrated at T = 1."""
    logits = rng.normal(0, 2.5, (n, k))
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    labels = np.array([rng.choice(k, p=row) for row in p])
    return logits, labels


def test_fit_recovers_the_temperature_that_made_logits_overconfident() -> None:
    logits, labels = calibrated_logits(np.random.default_rng(0), 20_000, 10)
    assert fit_temperature(MULTICLASS, 3.0 * logits, labels) == pytest.approx(3.0, rel=0.05)
    assert fit_temperature(MULTICLASS, 0.5 * logits, labels) == pytest.approx(0.5, rel=0.05)


def test_fit_works_for_sigmoid_kinds_too() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, (20_000, 1))
    y = (rng.random((20_000, 1)) < 1 / (1 + np.exp(-z))).astype(np.int64)
    assert fit_temperature(BINARY, 2.0 * z, y.reshape(-1)) == pytest.approx(2.0, rel=0.05)
    assert fit_temperature(MULTILABEL, 2.0 * z, y) == pytest.approx(2.0, rel=0.05)


def test_calibrated_logits_have_lower_ece_after_the_fitted_temperature() -> None:
    logits, labels = calibrated_logits(np.random.default_rng(2), 5000, 10)
    hot = 4.0 * logits
    t = fit_temperature(MULTICLASS, hot, labels)
    before = expected_calibration_error(*MULTICLASS.calibration_pairs(hot, labels))
    after = expected_calibration_error(*MULTICLASS.calibration_pairs(hot / t, labels))
    assert before > 0.1 and after < 0.03


def test_folding_divides_the_logits_and_keeps_every_argmax(
    published: dict[str, TrainReport],
) -> None:
    model = copy.deepcopy(published["mnist"].model)
    x = get_task("mnist").load_data(None).validation.x
    before = predict_logits(model, x, torch.device("cpu"))
    fold_temperature(logits_layer(model), 2.5)
    after = predict_logits(model, x, torch.device("cpu"))
    np.testing.assert_allclose(after * 2.5, before, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(after.argmax(1), before.argmax(1))


@pytest.mark.parametrize("name", ["mnist", "mnist-cnn", "tshirt"])
def test_a_folded_model_exports_to_onnx_that_agrees_with_torch_and_with_the_argmax(
    name: str, published: dict[str, TrainReport], tmp_path: Path
) -> None:
    task = get_task(name)
    x = task.load_data(None).validation.x[:256]
    model = copy.deepcopy(published[name].model)
    unfolded = predict_logits(model, x, torch.device("cpu"))
    fold_temperature(logits_layer(model), 1.7)
    path = tmp_path / "model.onnx"
    export_onnx(model, task, x, path)
    assert parity_gate(path, model, x).max_abs_diff <= 1e-4  # ONNX and torch agree
    served = onnx_logits(path, x)
    np.testing.assert_array_equal(
        task.kind.decisions(served, task.threshold), task.kind.decisions(unfolded, task.threshold)
    )
    np.testing.assert_allclose(served * 1.7, unfolded, rtol=1e-4, atol=1e-4)


def test_published_manifest_records_the_temperature_and_ece_before_and_after(
    published: dict[str, TrainReport],
) -> None:
    calibration = published["mnist"].manifest["calibration"]
    assert calibration["fitted_on"] == "validation" and calibration["measured_on"] == "test"
    assert calibration["temperature"] > 0 and calibration["ece_bins"] == 15
    assert 0 <= calibration["ece_before"] <= 1 and 0 <= calibration["ece_after"] <= 1


def test_folding_refuses_a_temperature_that_is_not_positive() -> None:
    layer = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        fold_temperature(layer, 0.0)
