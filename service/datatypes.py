"""The Open Inference Protocol's datatypes, in one table: numpy's dtype for each, and ONNX
Runtime's name for a tensor of it. Requests are read, binary data cut and graphs checked by
this table only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Datatype:
    numpy: np.dtype  # BYTES: Python objects (strings)
    onnx: str  # as InferenceSession.get_inputs() names it


DATATYPES: dict[str, Datatype] = {
    "BOOL": Datatype(np.dtype(np.bool_), "tensor(bool)"),
    "UINT8": Datatype(np.dtype(np.uint8), "tensor(uint8)"),
    "UINT16": Datatype(np.dtype(np.uint16), "tensor(uint16)"),
    "UINT32": Datatype(np.dtype(np.uint32), "tensor(uint32)"),
    "UINT64": Datatype(np.dtype(np.uint64), "tensor(uint64)"),
    "INT8": Datatype(np.dtype(np.int8), "tensor(int8)"),
    "INT16": Datatype(np.dtype(np.int16), "tensor(int16)"),
    "INT32": Datatype(np.dtype(np.int32), "tensor(int32)"),
    "INT64": Datatype(np.dtype(np.int64), "tensor(int64)"),
    "FP16": Datatype(np.dtype(np.float16), "tensor(float16)"),
    "FP32": Datatype(np.dtype(np.float32), "tensor(float)"),
    "FP64": Datatype(np.dtype(np.float64), "tensor(double)"),
    "BYTES": Datatype(np.dtype(np.object_), "tensor(string)"),
}
