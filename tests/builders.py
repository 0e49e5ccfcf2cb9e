"""Model repositories for tests, built with onnx.helper: small graphs with known weights,
published exactly as docs/model-repository.md says, so the service can be tested without
training anything."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MNIST_LABELS = [str(d) for d in range(10)]


def dense_graph(
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    *,
    input_name: str = "pixels",
    input_type: str = "UINT8",
    row_shape: tuple[int, ...] = (784,),
    scale: float | None = 1 / 255,
    hidden: str = "Relu",
    output_name: str = "logits",
) -> onnx.ModelProto:
    """Cast (if UINT8) -> flatten -> scale -> Dense (hidden) ... -> Dense: logits."""
    elem = TensorProto.UINT8 if input_type == "UINT8" else TensorProto.FLOAT
    inits, nodes = [], []
    x = input_name
    if input_type == "UINT8":
        nodes.append(helper.make_node("Cast", [x], ["as_float"], to=TensorProto.FLOAT))
        x = "as_float"
    if len(row_shape) > 1:
        nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1))
        x = "flat"
    if scale is not None:
        inits.append(numpy_helper.from_array(np.array(scale, dtype=np.float32), "scale"))
        nodes.append(helper.make_node("Mul", [x, "scale"], ["scaled"]))
        x = "scaled"
    for i, (w, b) in enumerate(zip(weights, biases)):
        inits += [
            numpy_helper.from_array(w.astype(np.float32), f"W{i}"),
            numpy_helper.from_array(b.astype(np.float32), f"b{i}"),
        ]
        last = i == len(weights) - 1
        out = output_name if last else f"z{i}"
        nodes.append(helper.make_node("Gemm", [x, f"W{i}", f"b{i}"], [out]))
        if not last:
            nodes.append(helper.make_node(hidden, [out], [f"a{i}"]))
            x = f"a{i}"
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info(input_name, elem, ["batch", *row_shape])],
        [
            helper.make_tensor_value_info(
                output_name, TensorProto.FLOAT, ["batch", weights[-1].shape[1]]
            )
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model


def random_mlp(
    seed: int = 0, row_shape: tuple[int, ...] = (784,), classes: int = 10
) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    n = int(np.prod(row_shape))
    w = [rng.normal(0, 0.05, (n, 16)), rng.normal(0, 0.3, (16, classes))]
    b = [np.zeros(16), rng.normal(0, 0.1, classes)]
    return dense_graph(w, b, row_shape=row_shape)


def image_manifest(
    name: str,
    version: int,
    height: int = 28,
    width: int = 28,
    flat: bool = True,
    task: str = "multiclass",
    labels: list[str] | None = None,
) -> dict[str, Any]:
    labels = labels or MNIST_LABELS
    return {
        "format": 1,
        "name": name,
        "version": version,
        "task": task,
        "labels": labels,
        "input": {
            "name": "pixels",
            "datatype": "UINT8",
            "shape": [-1, height * width] if flat else [-1, height, width],
            "kind": "image",
            "image": {"height": height, "width": width},
            "features": None,
        },
        "output": {
            "name": "logits",
            "datatype": "FP32",
            "shape": [-1, len(labels)],
            "activation": "softmax" if task == "multiclass" else "sigmoid",
        },
        "threshold": None if task == "multiclass" else 0.5,
        "metrics": {"accuracy": 0.5},
        "primary_metric": "accuracy",
        "created_at": "2026-11-26T00:00:00Z",
    }


def tabular_manifest(
    name: str, version: int, features: list[str], task: str, labels: list[str], outputs: int
) -> dict[str, Any]:
    return {
        "format": 1,
        "name": name,
        "version": version,
        "task": task,
        "labels": labels,
        "input": {
            "name": "features",
            "datatype": "FP32",
            "shape": [-1, len(features)],
            "kind": "tabular",
            "image": None,
            "features": [{"name": f, "unit": "", "description": ""} for f in features],
        },
        "output": {
            "name": "logits",
            "datatype": "FP32",
            "shape": [-1, outputs],
            "activation": "softmax" if task == "multiclass" else "sigmoid",
        },
        "threshold": None if task == "multiclass" else 0.5,
        "metrics": {},
    }


def publish(
    root: Path, model: onnx.ModelProto | bytes, manifest: dict[str, Any], fix_sha: bool = True
) -> Path:
    """Write a version atomically (temporary folder, then rename), as training does."""
    data = model if isinstance(model, bytes) else model.SerializeToString()
    if fix_sha:
        manifest = {**manifest, "model_sha256": hashlib.sha256(data).hexdigest()}
    folder = root / manifest["name"]
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-{os.getpid()}-{manifest['version']}"
    tmp.mkdir()
    (tmp / "model.onnx").write_bytes(data)
    (tmp / "manifest.json").write_text(json.dumps(manifest))
    target = folder / str(manifest["version"])
    os.rename(tmp, target)
    return target


def course_dense_model() -> onnx.ModelProto:
    """The course's example layer: W = [[1, -3, 5], [-2, 4, -6]], b = [-1, 1, 2], sigmoid."""
    w = np.array([[1, -3, 5], [-2, 4, -6]], dtype=np.float32)
    b = np.array([-1, 1, 2], dtype=np.float32)
    return dense_graph(
        [w], [b], input_name="features", input_type="FP32", row_shape=(2,), scale=None
    )


def standard_repository(root: Path) -> Path:
    """mnist (flat MLP), mnist-cnn stand-in (28x28 input), multilabel (28x84), tshirt, course."""
    publish(root, random_mlp(0), image_manifest("mnist", 1))
    publish(root, random_mlp(1, row_shape=(28, 28)), image_manifest("mnist-cnn", 1, flat=False))
    publish(
        root,
        random_mlp(2, row_shape=(28, 84)),
        image_manifest("multilabel", 1, width=84, flat=False, task="multilabel"),
    )
    rng = np.random.default_rng(3)
    tshirt = dense_graph(
        [rng.normal(0, 0.5, (4, 3)), rng.normal(0, 0.5, (3, 1))],
        [np.zeros(3), np.zeros(1)],
        input_name="features",
        input_type="FP32",
        row_shape=(4,),
        scale=None,
        hidden="Sigmoid",
    )
    publish(
        root,
        tshirt,
        tabular_manifest(
            "tshirt",
            1,
            ["price", "shipping_cost", "marketing", "quality"],
            "binary",
            ["not top seller", "top seller"],
            1,
        ),
    )
    publish(
        root,
        course_dense_model(),
        tabular_manifest("course", 1, ["x1", "x2"], "multilabel", ["a", "b", "c"], 3),
    )
    return root


def slow_mlp(layers: int = 24, width: int = 512) -> onnx.ModelProto:
    """An MNIST-shaped model that takes a while per row: one shared width x width layer
    applied `layers` times (the file stays small, the work does not)."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.01, (784, width)).astype(np.float32), "W_in"),
        numpy_helper.from_array(rng.normal(0, 0.02, (width, width)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.normal(0, 0.1, (width, 10)).astype(np.float32), "W_out"),
    ]
    nodes = [
        helper.make_node("Cast", ["pixels"], ["x0"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["x0", "W_in"], ["h0"]),
    ]
    for i in range(layers):
        nodes.append(helper.make_node("MatMul", [f"h{i}", "W"], [f"z{i}"]))
        nodes.append(helper.make_node("Tanh", [f"z{i}"], [f"h{i + 1}"]))
    nodes.append(helper.make_node("MatMul", [f"h{layers}", "W_out"], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "slow",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["batch", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def nonfinite_mlp(where: str) -> onnx.ModelProto:
    """An MNIST-shaped model whose logits are not finite: "nan" and "inf" for every input,
    "nan-off-zero" only for inputs that are not all zeros (sqrt of the negated pixels), which a
    warm-up on zeros alone cannot see."""
    rng = np.random.default_rng(0)
    w = [rng.normal(0, 0.05, (784, 16)), rng.normal(0, 0.3, (16, 10))]
    b = [np.zeros(16), np.zeros(10)]
    if where in ("nan", "inf"):
        b[1][3] = np.nan if where == "nan" else np.inf
        return dense_graph(w, b)
    assert where == "nan-off-zero"
    inits = [
        numpy_helper.from_array(w[0].astype(np.float32), "W0"),
        numpy_helper.from_array(b[0].astype(np.float32), "b0"),
        numpy_helper.from_array(w[1].astype(np.float32), "W1"),
        numpy_helper.from_array(b[1].astype(np.float32), "b1"),
    ]
    nodes = [
        helper.make_node("Cast", ["pixels"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("Neg", ["x"], ["negated"]),
        helper.make_node("Sqrt", ["negated"], ["root"]),  # sqrt(-0) = -0; sqrt(-7) = NaN
        helper.make_node("Gemm", ["root", "W0", "b0"], ["z0"]),
        helper.make_node("Relu", ["z0"], ["a0"]),
        helper.make_node("Gemm", ["a0", "W1", "b1"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "nonfinite",
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["batch", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model


def _mnist_shaped(nodes: list[Any], extra: Any, inits: list[Any], name: str) -> onnx.ModelProto:
    """pixels (UINT8 [batch, 784]) -> logits [batch, 10] = pixels @ W + extra, where `nodes`
    compute `extra` (a float tensor broadcast over the logits) from `inits`."""
    w = np.full((784, 10), 0.001, np.float32)
    graph = helper.make_graph(
        [
            *nodes,
            helper.make_node("Cast", ["pixels"], ["x"], to=TensorProto.FLOAT),
            helper.make_node("MatMul", ["x", "W"], ["h"]),
            helper.make_node("Add", ["h", extra], ["logits"]),
        ],
        name,
        [helper.make_tensor_value_info("pixels", TensorProto.UINT8, ["batch", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        [*inits, numpy_helper.from_array(w, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return model


def looping_mlp(trips: int) -> onnx.ModelProto:
    """An MNIST-shaped model of 30 KB whose every call runs a Loop of `trips` iterations
    (about 2 us each on a CPU: 10**8 is minutes), adding nothing to the logits."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "step"], ["acc_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [1]),
        ],
        [numpy_helper.from_array(np.zeros(1, np.float32), "step")],
    )
    return _mnist_shaped(
        [helper.make_node("Loop", ["trips", "", "zero"], ["looped"], body=body)],
        "looped",
        [
            numpy_helper.from_array(np.array(trips, np.int64), "trips"),
            numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
        ],
        "looping",
    )


def memory_hungry_mlp(floats: int) -> onnx.ModelProto:
    """An MNIST-shaped model of 30 KB that makes ONNX Runtime allocate `floats` floats (a
    ConstantOfShape, summed into the logits as 0): folded when the session is created, or
    allocated by every call where it is too large to fold (1 GiB in ONNX Runtime 1.2x)."""
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
    return _mnist_shaped(
        [
            helper.make_node("ConstantOfShape", ["size"], ["big"], value=zero),
            helper.make_node("ReduceSum", ["big"], ["total"], keepdims=1),
        ],
        "total",
        [numpy_helper.from_array(np.array([floats], np.int64), "size")],
        "memory-hungry",
    )


def wide_repository(root: Path, classes: int, name: str = "wide") -> Path:
    """A multiclass tabular model of two features and `classes` outputs, labelled by their
    index (past 10,000 classes, by their index modulo 100: 100,000 labels of five digits
    would pass the manifest's bound on label bytes)."""
    rng = np.random.default_rng(7)
    graph = dense_graph(
        [rng.normal(0, 1, (2, classes))],
        [np.zeros(classes)],
        input_name="features",
        input_type="FP32",
        row_shape=(2,),
        scale=None,
    )
    labels = [str(i if classes <= 10_000 else i % 100) for i in range(classes)]
    publish(root, graph, tabular_manifest(name, 1, ["x1", "x2"], "multiclass", labels, classes))
    return root
