"""The v2 calls: the Open Inference Protocol with Triton's binary tensor data, numpy arrays
in and out. As data, like `_calls`."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from logitserve_client._calls import Call, model_path
from logitserve_client._errors import InputError
from logitserve_client._results import InferResult

# The Open Inference Protocol's datatypes that a model input can have, as numpy types.
DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
BINARY_HEADER = "inference-header-content-length"


@dataclass(frozen=True)
class InputTensor:
    """What v2 inference needs to know of a model's input (from its v2 metadata)."""

    name: str
    datatype: str


def input_tensor(name: str, version: int | str | None = None) -> Call[InputTensor]:
    def parse(r: httpx.Response) -> InputTensor:
        tensor = r.json()["inputs"][0]
        return InputTensor(tensor["name"], tensor["datatype"])

    return Call("GET", "/v2" + model_path(name, version), parse)


def infer(
    name: str,
    array: np.ndarray,
    tensor: InputTensor,
    version: int | str | None = None,
    outputs: Sequence[str] = ("probabilities",),
    classification: int = 0,
    binary: bool = True,
    request_id: str | None = None,
) -> Call[InferResult]:
    values = _as_datatype(np.asarray(array), tensor.datatype)
    entry: dict[str, Any] = {
        "name": tensor.name,
        "datatype": tensor.datatype,
        "shape": list(values.shape),
    }
    blob = b""
    if binary:
        blob = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes()
        entry["parameters"] = {"binary_data_size": len(blob)}
    else:
        entry["data"] = values.ravel().tolist()
    request: dict[str, Any] = {
        "inputs": [entry],
        "outputs": [
            {"name": o, "parameters": {"binary_data": binary, "classification": classification}}
            for o in outputs
        ],
    }
    if request_id is not None:
        request["id"] = request_id
    header = json.dumps(request, separators=(",", ":")).encode()
    headers = {"content-type": "application/octet-stream" if binary else "application/json"}
    if binary:
        headers[BINARY_HEADER] = str(len(header))
    return Call(
        "POST",
        "/v2" + model_path(name, version) + "/infer",
        _parse_infer,
        content=header + blob,
        headers=headers,
    )


def _as_datatype(values: np.ndarray, datatype: str) -> np.ndarray:
    """The array in the model's datatype; a conversion that would change a value is refused."""
    dtype = DATATYPES.get(datatype)
    if dtype is None:
        raise InputError(f"the model's input datatype {datatype} is not one this client sends")
    if values.dtype == dtype:
        return values
    if values.ndim == 0:
        raise InputError("give a batch: an array whose first axis is the rows")
    if dtype.kind in "ui" and values.dtype.kind == "f":
        # Float pixels (0.0-255.0, as image libraries give them) round to the nearest integer.
        if not np.isfinite(values).all():
            raise InputError(f"NaN or infinity cannot be sent as {datatype}")
        values = np.rint(values)
    info = np.iinfo(dtype) if dtype.kind in "ui" else None
    if info is not None and values.size and (values.min() < info.min or values.max() > info.max):
        raise InputError(f"values outside {info.min}..{info.max} cannot be sent as {datatype}")
    converted = values.astype(dtype)
    if dtype.kind in "ui" and not np.array_equal(converted, values):
        raise InputError(f"the values cannot be sent as {datatype} unchanged")
    return converted


def _parse_infer(r: httpx.Response) -> InferResult:
    content = r.content
    length = r.headers.get(BINARY_HEADER)
    split = int(length) if length is not None else len(content)
    doc = json.loads(content[:split])
    offset = split
    outputs: dict[str, np.ndarray] = {}
    for out in doc.get("outputs", []):
        shape = tuple(out["shape"])
        size = (out.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            blob = content[offset : offset + size]
            offset += size
            if out["datatype"] == "BYTES":
                array = np.array(_bytes_elements(blob), dtype=object)
            else:
                array = np.frombuffer(blob, dtype=DATATYPES[out["datatype"]].newbyteorder("<"))
        elif out["datatype"] == "BYTES":
            array = np.array(out["data"], dtype=object)
        else:
            array = np.asarray(out["data"], dtype=DATATYPES[out["datatype"]])
        outputs[out["name"]] = array.reshape(shape)
    return InferResult(doc["model_name"], str(doc["model_version"]), doc.get("id"), outputs)


def _bytes_elements(blob: bytes) -> list[str]:
    """Triton's BYTES tensor: each element a 4-byte little-endian length, then its bytes."""
    items, offset = [], 0
    while offset < len(blob):
        (length,) = struct.unpack_from("<I", blob, offset)
        offset += 4
        items.append(blob[offset : offset + length].decode())
        offset += length
    return items
