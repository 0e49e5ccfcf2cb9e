from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tests.builders import standard_repository
from tests.servers import RunningServer, free_port, running


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standard_repository(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def server(repository: Path) -> Iterator[RunningServer]:
    """HTTP and gRPC, one process, one data plane, shared by a module."""
    with running(repository, reload_interval_s=0, grpc_port=free_port()) as srv:
        yield srv


@dataclass(frozen=True)
class Case:
    """A model of the standard repository, an input batch for it, and the answer ONNX Runtime
    and the task's activation give directly (what every transport must return)."""

    model: str
    input: str
    datatype: str
    rows: np.ndarray
    logits: np.ndarray
    probabilities: np.ndarray
    labels: list[str]


SHAPES = {
    "mnist": ("pixels", "UINT8", (784,), "softmax"),
    "mnist-cnn": ("pixels", "UINT8", (28, 28), "softmax"),
    "multilabel": ("pixels", "UINT8", (28, 84), "sigmoid"),
    "tshirt": ("features", "FP32", (4,), "sigmoid"),
    "course": ("features", "FP32", (2,), "sigmoid"),
}
LABELS = {
    "tshirt": ["top seller"],  # one column: the positive class's
    "course": ["a", "b", "c"],
}
MODELS = sorted(SHAPES)


def case(repository: Path, model: str, rows: int = 3) -> Case:
    name, datatype, row_shape, activation = SHAPES[model]
    rng = np.random.default_rng(len(model))
    if datatype == "UINT8":
        x = rng.integers(0, 256, (rows, *row_shape), dtype=np.uint8)
    else:
        x = rng.normal(0, 3, (rows, *row_shape)).astype(np.float32)
    session = ort.InferenceSession(
        str(repository / model / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    logits = session.run(None, {name: x})[0]
    if activation == "softmax":
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = e / e.sum(axis=1, keepdims=True)
    else:
        probabilities = 1 / (1 + np.exp(-logits))
    labels = LABELS.get(model, [str(d) for d in range(10)])
    return Case(model, name, datatype, x, logits, probabilities, labels)


@pytest.fixture(scope="module")
def cases(repository: Path) -> dict[str, Case]:
    return {model: case(repository, model) for model in MODELS}


def check_classes(case: Case, output: str, classes: np.ndarray, k: int) -> None:
    """Triton's classification strings: the k largest values of the tensor asked for."""
    tensor = case.probabilities if output == "probabilities" else case.logits
    k = min(k, tensor.shape[1])
    assert classes.shape == (len(case.rows), k)
    for row, expected in zip(classes, tensor):
        parsed = [(s.decode() if isinstance(s, bytes) else s).split(":", 2) for s in row]
        indices = [int(i) for _, i, _ in parsed]
        assert indices == list(np.argsort(-expected, kind="stable")[:k])
        assert np.allclose([float(v) for v, _, _ in parsed], expected[indices], atol=1e-4)
        assert [label for _, _, label in parsed] == [case.labels[i] for i in indices]
