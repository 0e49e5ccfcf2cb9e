"""The Open Inference Protocol's datatypes, in one table: numpy's dtype for each, ONNX
Runtime's name for a tensor of it, and Triton's model-configuration name. Requests are read,
binary data cut, graphs checked and configurations written by this table only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Datatype:
    numpy: np.dtype  # BYTES: Python objects (strings)
    onnx: str  # as InferenceSession.get_inputs() names it
    config: str  # as Triton's model configuration names it (model_config.proto's DataType)


DATATYPES: dict[str, Datatype] = {
    "BOOL": Datatype(np.dtype(np.bool_), "tensor(bool)", "TYPE_BOOL"),
    "UINT8": Datatype(np.dtype(np.uint8), "tensor(uint8)", "TYPE_UINT8"),
    "UINT16": Datatype(np.dtype(np.uint16), "tensor(uint16)", "TYPE_UINT16"),
    "UINT32": Datatype(np.dtype(np.uint32), "tensor(uint32)", "TYPE_UINT32"),
    "UINT64": Datatype(np.dtype(np.uint64), "tensor(uint64)", "TYPE_UINT64"),
    "INT8": Datatype(np.dtype(np.int8), "tensor(int8)", "TYPE_INT8"),
    "INT16": Datatype(np.dtype(np.int16), "tensor(int16)", "TYPE_INT16"),
    "INT32": Datatype(np.dtype(np.int32), "tensor(int32)", "TYPE_INT32"),
    "INT64": Datatype(np.dtype(np.int64), "tensor(int64)", "TYPE_INT64"),
    "FP16": Datatype(np.dtype(np.float16), "tensor(float16)", "TYPE_FP16"),
    "FP32": Datatype(np.dtype(np.float32), "tensor(float)", "TYPE_FP32"),
    "FP64": Datatype(np.dtype(np.float64), "tensor(double)", "TYPE_FP64"),
    "BYTES": Datatype(np.dtype(np.object_), "tensor(string)", "TYPE_STRING"),
}
