"""The export clean-ups: a constant input scale folded into the first layer gives the same
logits, shared weights are left alone, and no stack traces (local paths) ship in the file."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from training.graph import simplify


def scaled_model(consumer: str = "Gemm", share_weights: bool = False) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 4)).astype(np.float32)
    inits = [
        numpy_helper.from_array(np.array(255.0, dtype=np.float32), "scale"),
        numpy_helper.from_array(w, "W"),
    ]
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["xf", "scale"], ["scaled"]),
        helper.make_node("Unsqueeze", ["scaled", "axes"], ["u"]),
        helper.make_node("Squeeze", ["u", "axes"], ["s"]),
        helper.make_node(consumer, ["s", "W"], ["y"]),
    ]
    inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"))
    if share_weights:
        nodes.append(helper.make_node("MatMul", ["xf", "W"], ["y2"]))
        nodes.append(helper.make_node("Add", ["y", "y2"], ["y3"]))
    nodes[1].metadata_props.add(key="pkg.torch.onnx.stack_trace", value='File "/home/me/x.py"')
    out = "y3" if share_weights else "y"
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, ["n", 6])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["n", 4])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return model


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


def test_the_pixel_scale_is_folded_into_the_first_layer_with_the_same_logits() -> None:
    x = np.random.default_rng(1).integers(0, 256, (5, 6)).astype(np.uint8)
    for consumer in ("Gemm", "MatMul"):
        original = scaled_model(consumer)
        expected = run(original, x)
        folded = simplify(scaled_model(consumer))
        assert "Div" not in [n.op_type for n in folded.graph.node]
        assert "scale" not in [i.name for i in folded.graph.initializer]
        onnx.checker.check_model(folded, full_check=True)
        assert np.allclose(run(folded, x), expected, atol=1e-5)


def test_shared_weights_are_not_scaled() -> None:
    folded = simplify(scaled_model(share_weights=True))
    assert "Div" in [n.op_type for n in folded.graph.node]


def test_stack_traces_with_local_paths_are_dropped() -> None:
    folded = simplify(scaled_model(share_weights=True))
    assert "/home/me" not in str(folded)


def test_the_shipped_models_carry_no_local_paths() -> None:
    from pathlib import Path

    for path in (Path(__file__).resolve().parents[2] / "models").glob("*/*/model.onnx"):
        assert b"stack_trace" not in path.read_bytes(), path
