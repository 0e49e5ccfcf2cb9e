"""Export to ONNX, check the graph against the contract, and gate on parity with PyTorch.

The exporter is torch's ``torch.export``-based one (``dynamo=True``), the default since
torch 2.9; with torch 2.13 it handles every model here, while the legacy TorchScript exporter
is deprecated. It traces with a batch of at least 2 (a size-1 dimension gets specialised) and
marks the batch axis dynamic.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from training import graph
from training.errors import ExportError, ParityError
from training.loop import as_tensor, predict_logits
from training.tasks.spec import Task

OPSET = 18
PARITY_TOLERANCE = 1e-4
_ONNX_TYPES = {"UINT8": onnx.TensorProto.UINT8, "FP32": onnx.TensorProto.FLOAT}
_ORT_CHUNK = 4096


@dataclass(frozen=True)
class Parity:
    max_abs_diff: float
    samples: int

    def to_manifest(self) -> dict[str, float | int]:
        return {"max_abs_diff": self.max_abs_diff, "samples": self.samples}


def export_onnx(model: nn.Module, task: Task, example: np.ndarray, path: Path) -> None:
    """Write ``model`` (on CPU, eval mode) to ``path`` as one self-contained ONNX file."""
    model = model.cpu().eval()
    # At least two rows, so the batch dimension is not specialised to a constant.
    rows = example[:2] if len(example) >= 2 else np.concatenate([example[:1]] * 2)
    x = as_tensor(rows)
    batch = torch.export.Dim("batch")
    with _quiet_exporter():
        torch.onnx.export(
            model,
            (x,),
            str(path),
            dynamo=True,
            input_names=[task.input.name],
            output_names=[task.output_name],
            dynamic_shapes=({0: batch},),
            opset_version=OPSET,
            external_data=False,  # one file: the service loads it by path and hashes it
            verbose=False,
        )
    onnx.save_model(graph.simplify(onnx.load(str(path))), str(path))
    check_graph(path, task)


def check_graph(path: Path, task: Task) -> None:
    """``onnx.checker`` (full) plus the contract: opset, names, types, dynamic batch axis."""
    model = onnx.load(str(path))
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as error:
        raise ExportError(f"{path}: onnx.checker rejects the graph: {error}") from error
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 17:
        raise ExportError(f"{path}: opset {opset}, the contract needs >= 17")
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ExportError(f"{path}: the contract needs exactly one input and one output")
    expected = [
        (graph.input[0], task.input.name, _ONNX_TYPES[task.input.datatype], task.input.shape),
        (graph.output[0], task.output_name, onnx.TensorProto.FLOAT, (-1, task.output_size)),
    ]
    for value, name, elem_type, shape in expected:
        tensor = value.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim)
        if (value.name, tensor.elem_type, dims) != (name, elem_type, shape):
            type_name = onnx.TensorProto.DataType.Name
            raise ExportError(
                f"{path}: graph tensor {value.name!r} {type_name(tensor.elem_type)} "
                f"{list(dims)} should be {name!r} {type_name(elem_type)} {list(shape)}"
            )


def parity_gate(path: Path, model: nn.Module, x: np.ndarray) -> Parity:
    """Compare ONNX Runtime with PyTorch on ``x``; ``ParityError`` if they differ."""
    expected = predict_logits(model.cpu(), x, torch.device("cpu"))
    actual = onnx_logits(path, x)
    if actual.shape != expected.shape:
        raise ParityError(
            f"ONNX Runtime returned logits of shape {actual.shape}, PyTorch {expected.shape}"
        )
    diff = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
    if not np.isfinite(diff) or diff > PARITY_TOLERANCE:
        raise ParityError(
            f"ONNX Runtime and PyTorch logits differ by up to {diff:.3g} (tolerance "
            f"{PARITY_TOLERANCE:g}) on {len(x)} validation inputs; the model is not published"
        )
    return Parity(max_abs_diff=diff, samples=len(x))


def onnx_logits(path: Path, x: np.ndarray) -> np.ndarray:
    """Run ``path`` in ONNX Runtime on CPU (what serving without a GPU does)."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    chunks = [
        np.asarray(session.run(None, {name: np.ascontiguousarray(x[i : i + _ORT_CHUNK])})[0])
        for i in range(0, len(x), _ORT_CHUNK)
    ]
    return np.concatenate(chunks)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence two known, harmless messages from inside torch's exporter (torch 2.13).

    - a FutureWarning that torch's own pytree code raises while copying a tree spec
      (``isinstance(treespec, LeafSpec)`` is deprecated) - nothing our code can change;
    - one log line per torchvision operator ("torchvision is not installed"), which we
      do not use.
    Everything else, warnings and errors alike, still surfaces.
    """
    registration_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration_log.level
    registration_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                category=FutureWarning,
            )
            yield
    finally:
        registration_log.setLevel(level)
