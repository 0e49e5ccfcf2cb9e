"""The one datatype table agrees with ONNX Runtime: for every Open Inference Protocol
datatype, a graph of that type reports the table's type name and takes the table's numpy
dtype."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from service.protocol.datatypes import DATATYPES

ONNX_ELEMENT = {
    "BOOL": TensorProto.BOOL,
    "UINT8": TensorProto.UINT8,
    "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32,
    "UINT64": TensorProto.UINT64,
    "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16,
    "INT32": TensorProto.INT32,
    "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16,
    "FP32": TensorProto.FLOAT,
    "FP64": TensorProto.DOUBLE,
    "BYTES": TensorProto.STRING,
}


@pytest.mark.parametrize("name", sorted(DATATYPES))
def test_a_graph_of_each_datatype_has_the_tables_type_and_dtype(name: str) -> None:
    element = ONNX_ELEMENT[name]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", element, ["n"])],
        [helper.make_tensor_value_info("y", element, ["n"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == DATATYPES[name].onnx
    values = np.array(["a", "b"] if name == "BYTES" else [1, 0], dtype=DATATYPES[name].numpy)
    assert session.run(None, {"x": values})[0].tolist() == values.tolist()
