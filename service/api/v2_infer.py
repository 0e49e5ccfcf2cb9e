"""The Open Inference Protocol's inference request and response, with Triton's binary tensor
data and classification extensions, read and written by hand for speed and strictness."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import orjson

from service.api import binary, body
from service.api.responses import JSON, BytesResponse
from service.errors import InvalidInput, describe
from service.inference import Scored, class_probabilities, fit_rows, top_k
from service.manifest import Manifest
from service.runtime import NUMPY_TYPES
from service.tensors import (
    DATATYPES,
    check_finite_fp32,
    check_shape,
    flatten,
    from_json,
    from_whole_numbers,
)

OUTPUTS = ("probabilities", "logits")


@dataclass(frozen=True)
class RequestedOutput:
    name: str
    binary: bool
    classification: int


# Built for every request: slots, not frozen (a frozen dataclass costs ~1 us to build here).
@dataclass(slots=True)
class InferCall:
    id: str | None
    rows: np.ndarray
    outputs: tuple[RequestedOutput, ...]


def parse_json(header: bytes) -> dict[str, object]:
    doc = body.parse_json(header, "an inference request JSON object")
    if type(doc) is not dict:
        raise InvalidInput("the inference request must be a JSON object")
    return doc


def _parameters(value: object, what: str) -> dict[str, object]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise InvalidInput(f"{what} must be a JSON object")
    return value


def _flag(params: dict[str, object], key: str, what: str) -> bool:
    value = params.get(key, False)
    if type(value) is not bool:
        raise InvalidInput(f"{what}.{key} must be true or false")
    return value


def parse_request(
    doc: dict[str, object],
    manifest: Manifest,
    payload: memoryview | None,
    max_rows: int,
    booleans: bool = True,
) -> InferCall:
    """`booleans`: whether the JSON text may contain true/false (see tensors.may_hold_booleans)."""
    request_id = doc.get("id")
    if request_id is not None and (type(request_id) is not str or len(request_id) > 256):
        raise InvalidInput("id must be a string of at most 256 characters")
    params = _parameters(doc.get("parameters"), "parameters")
    binary_default = _flag(params, "binary_data_output", "parameters")

    inputs = doc.get("inputs")
    spec = manifest.input
    if type(inputs) is not list or len(inputs) != 1 or type(inputs[0]) is not dict:
        raise InvalidInput(f"inputs must be a list of one tensor, '{spec.name}'")
    tensor: dict[str, object] = inputs[0]
    if tensor.get("name") != spec.name:
        got = describe(tensor.get("name"))
        raise InvalidInput(f"model '{manifest.name}' has one input, '{spec.name}'; got {got}")
    what = f"input '{spec.name}'"
    datatype = tensor.get("datatype")
    if datatype not in DATATYPES:
        raise InvalidInput(f"{what}: unknown datatype {describe(datatype)}")
    if datatype != spec.datatype:
        raise InvalidInput(f"{what}: model '{manifest.name}' takes {spec.datatype}, got {datatype}")
    shape = check_shape(tensor.get("shape"), what, max_rows * spec.row_size)
    if shape[1:] != spec.row_shape:
        dims = ", ".join(map(str, spec.row_shape))
        raise InvalidInput(f"{what}: shape must be [batch, {dims}]; got {list(shape)}")
    size = _parameters(tensor.get("parameters"), f"{what} parameters").get("binary_data_size")
    if size is not None:
        values = _binary_values(tensor, size, payload, shape, what)
    else:
        if payload:
            raise InvalidInput("the body has binary data, but no input declares binary_data_size")
        if "data" not in tensor:
            raise InvalidInput(f"{what}: give data, or binary_data_size with binary data")
        data = tensor["data"]
        if type(data) is np.ndarray:  # cut out of the body and parsed by numbers.loads
            if data.size != math.prod(shape):
                raise InvalidInput(f"{what}: data does not match shape {list(shape)}")
            values = from_whole_numbers(data, spec.datatype, what)
        else:
            values = from_json(flatten(data, shape, what), spec.datatype, what, booleans)
    rows = fit_rows(manifest, values, shape[0], max_rows, what)
    return InferCall(request_id, rows, _outputs(doc.get("outputs"), binary_default, manifest))


def _binary_values(
    tensor: dict[str, object],
    size: object,
    payload: memoryview | None,
    shape: tuple[int, ...],
    what: str,
) -> np.ndarray:
    if type(size) is not int or size < 0:
        raise InvalidInput(f"{what}: binary_data_size must be a non-negative integer")
    if "data" in tensor:
        raise InvalidInput(f"{what}: give either data or binary_data_size, not both")
    if payload is None:
        raise InvalidInput(
            f"{what}: binary_data_size given without an Inference-Header-Content-Length header"
        )
    dtype = NUMPY_TYPES[str(tensor["datatype"])]
    expected = math.prod(shape) * dtype.itemsize
    if size != expected:
        raise InvalidInput(
            f"{what}: shape {list(shape)} needs {expected} bytes, binary_data_size is {size}"
        )
    if len(payload) != size:
        raise InvalidInput(
            f"{what}: binary_data_size is {size} but {len(payload)} bytes follow the header"
        )
    values = np.frombuffer(payload, dtype=dtype.newbyteorder("<"))
    check_finite_fp32(values, what)
    return values


# What a request without "outputs" gets: built once (a frozen dataclass costs ~1 us to build).
_ALL_OUTPUTS = {
    binary: tuple(RequestedOutput(name, binary, 0) for name in OUTPUTS) for binary in (False, True)
}


def _outputs(
    value: object, binary_default: bool, manifest: Manifest
) -> tuple[RequestedOutput, ...]:
    if value is None:
        return _ALL_OUTPUTS[binary_default]
    if type(value) is not list or not value:
        raise InvalidInput("outputs must be a non-empty list")
    requested: list[RequestedOutput] = []
    for item in value:
        if type(item) is not dict or item.get("name") not in OUTPUTS:
            raise InvalidInput(f"outputs: model '{manifest.name}' has outputs {list(OUTPUTS)}")
        name = str(item["name"])
        if any(r.name == name for r in requested):
            raise InvalidInput(f"outputs: '{name}' is requested twice")
        params = _parameters(item.get("parameters"), f"output '{name}' parameters")
        binary_out = params.get("binary_data", binary_default)
        if type(binary_out) is not bool:
            raise InvalidInput(f"output '{name}': binary_data must be true or false")
        k = params.get("classification", 0)
        if type(k) is not int or k < 0:
            raise InvalidInput(f"output '{name}': classification must be a non-negative integer")
        requested.append(RequestedOutput(name, binary_out, min(k, manifest.classes)))
    return tuple(requested)


def encode_response(scored: Scored, call: InferCall) -> BytesResponse:
    """The response (binary outputs make it a two-part body)."""
    model = scored.model
    response: dict[str, object] = {
        "model_name": model.name,
        "model_version": str(model.version),
        "outputs": [],
    }
    if call.id is not None:
        response["id"] = call.id
    outputs: list[dict[str, object]] = response["outputs"]  # type: ignore[assignment]
    blobs: list[bytes] = []
    for requested in call.outputs:
        tensor = scored.probabilities if requested.name == "probabilities" else scored.logits
        entry: dict[str, object] = {"name": requested.name}
        if requested.classification:
            strings = _classification(model.manifest, scored, requested.classification)
            entry["datatype"] = "BYTES"
            entry["shape"] = [len(strings), requested.classification]
            flat = [s for row in strings for s in row]
            if requested.binary:
                blob = binary.encode_bytes_tensor([s.encode() for s in flat])
                entry["parameters"] = {"binary_data_size": len(blob)}
                blobs.append(blob)
            else:
                entry["data"] = flat
        else:
            entry["datatype"] = "FP32"
            entry["shape"] = list(tensor.shape)
            if requested.binary:
                blob = np.ascontiguousarray(tensor, dtype="<f4").tobytes()
                entry["parameters"] = {"binary_data_size": len(blob)}
                blobs.append(blob)
            else:
                entry["data"] = tensor.ravel()
        outputs.append(entry)
    header = orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return BytesResponse(header, JSON)
    return BytesResponse(
        b"".join([header, *blobs]),
        b"application/octet-stream",
        (binary.HEADER.encode(), str(len(header)).encode()),
    )


def _classification(manifest: Manifest, scored: Scored, k: int) -> list[list[str]]:
    """Triton's 'score:index:label' per row, most probable first; our score is the probability."""
    probs = class_probabilities(manifest, scored.probabilities)
    indices, scores = top_k(probs, k)
    labels = manifest.labels
    return [
        [f"{s:f}:{i}:{labels[i]}" for i, s in zip(row_i.tolist(), row_s.tolist())]
        for row_i, row_s in zip(indices, scores)
    ]
