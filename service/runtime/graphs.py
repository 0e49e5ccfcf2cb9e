"""What an ONNX graph must look like for the service to serve it, checked against the
manifest that describes it: one input, a logits output, datatypes and shapes that agree.
Plain descriptions of the graph (runtime.py reads them from ONNX Runtime), so that the
checks say in words what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

from modelrepo.manifest import Manifest
from service.protocol.datatypes import DATATYPES
from service.repository.folders import LoadError

# ONNX Runtime's names of the element types the service serves, to the protocol's.
SERVED_INPUTS = {"tensor(uint8)": "UINT8", "tensor(float)": "FP32"}


@dataclass(frozen=True)
class Tensor:
    name: str
    type: str  # as ONNX Runtime says: "tensor(float)"
    shape: list[object]  # ints, or names/None for symbolic dimensions


@dataclass(frozen=True)
class Graph:
    inputs: list[Tensor]
    outputs: list[Tensor]


def batch_size(shape: list[object]) -> int | None:
    """The fixed batch size a graph was exported with, or None when the batch is dynamic."""
    first = shape[0] if shape else None
    return first if isinstance(first, int) and first > 0 else None


def _dims_match(graph_shape: list[object], declared: list[int]) -> bool:
    if len(graph_shape) != len(declared):
        return False
    # Beyond the batch, dimensions must equal the manifest's (a symbolic one agrees).
    return all(not isinstance(g, int) or g == d for g, d in zip(graph_shape[1:], declared[1:]))


def check(graph: Graph, manifest: Manifest) -> int | None:
    """LoadError naming what disagrees; else the graph's fixed batch size (None: dynamic)."""
    if len(graph.inputs) != 1:
        raise LoadError(f"the graph has {len(graph.inputs)} inputs; the manifest describes one")
    graph_in = graph.inputs[0]
    spec = manifest.input
    if graph_in.name != spec.name:
        raise LoadError(f"the graph's input is {graph_in.name!r}, the manifest says {spec.name!r}")
    if graph_in.type != DATATYPES[spec.datatype].onnx:
        raise LoadError(f"the graph's input is {graph_in.type}, the manifest says {spec.datatype}")
    if not _dims_match(graph_in.shape, spec.shape):
        raise LoadError(f"the graph's input shape {graph_in.shape} disagrees with {spec.shape}")
    names = [o.name for o in graph.outputs]
    if manifest.output.name not in names:
        raise LoadError(f"the graph has no output {manifest.output.name!r} (it has {names})")
    graph_out = graph.outputs[names.index(manifest.output.name)]
    if graph_out.type != DATATYPES[manifest.output.datatype].onnx:
        raise LoadError(f"the graph's output is {graph_out.type}, logits must be FP32")
    fixed = batch_size(graph_in.shape)
    out_batch = batch_size(graph_out.shape)
    if not _dims_match(graph_out.shape, manifest.output.shape) or (
        out_batch is not None and out_batch != fixed
    ):
        raise LoadError(
            f"the graph's output shape {graph_out.shape} disagrees with {manifest.output.shape}"
        )
    return fixed
