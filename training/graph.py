"""Two clean-ups of the exported graph before it is checked and gated on parity.

- Fold a constant input scale into the first layer. The graph receives raw pixels and
  divides them by 255 before the first Gemm/MatMul/Conv; dividing that layer's weights by
  255 once, at export, gives the same logits (the parity gate checks it) and saves ONNX
  Runtime a pass over every input: about a third of the MLP's time at batch 1024.
- Drop the exporter's per-node stack traces: they are debugging aids that would ship local
  file paths inside every model file.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

# Nodes a scalar scale passes through unchanged (it commutes with reshaping).
_RESHAPES = {"Unsqueeze", "Reshape", "Flatten", "Squeeze"}
# Layers whose weight input (index 1) absorbs a scalar scale of their data input.
_LINEAR = {"Gemm", "MatMul", "Conv"}
_TRACE_KEYS = {"pkg.torch.onnx.stack_trace", "pkg.torch.onnx.fx_node"}


def simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    _fold_input_scale(model.graph)
    for node in model.graph.node:
        kept = [p for p in node.metadata_props if p.key not in _TRACE_KEYS]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
    return model


def _fold_input_scale(graph: onnx.GraphProto) -> bool:
    inits = {i.name: i for i in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for div in graph.node:
        if div.op_type != "Div" or div.input[1] not in inits:
            continue
        divisor = numpy_helper.to_array(inits[div.input[1]])
        if divisor.size != 1 or float(divisor) == 0:
            continue
        # Follow the single path of consumers through reshapes to a linear layer.
        node, value = div, div.output[0]
        while True:
            users = consumers.get(value, [])
            if len(users) != 1 or value in (o.name for o in graph.output):
                break
            node = users[0]
            if node.op_type in _RESHAPES and node.input[0] == value:
                value = node.output[0]
                continue
            break
        if node.op_type not in _LINEAR or node.input[0] != value or node.input[1] not in inits:
            continue
        if len(consumers.get(node.input[1], [])) != 1:
            continue  # the weights are shared: scaling them would change another layer
        weights = inits[node.input[1]]
        scaled = numpy_helper.to_array(weights) / np.float32(divisor)
        weights.CopyFrom(numpy_helper.from_array(scaled.astype(np.float32), weights.name))
        _bypass(graph, div)
        return True
    return False


def _bypass(graph: onnx.GraphProto, node: onnx.NodeProto) -> None:
    """Remove `node`, wiring its input straight to its output's readers."""
    source, target = node.input[0], node.output[0]
    for other in graph.node:
        for i, name in enumerate(other.input):
            if name == target:
                other.input[i] = source
    graph.node.remove(node)
    used = {name for n in graph.node for name in n.input}
    for init in list(graph.initializer):
        if init.name not in used:
            graph.initializer.remove(init)
