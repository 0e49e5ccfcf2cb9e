"""The Open Inference Protocol over HTTP: a request body (JSON, or Triton's binary tensor
data extension) to an InferenceRequest, and an InferenceResponse to a body. Read and
written by hand, for speed and strictness: this checks that the body is well formed; the
data plane checks that it fits the model."""

from __future__ import annotations

import numpy as np
import orjson

from service.api import binary, body, numbers
from service.api.json_budget import JsonBudget
from service.api.responses import JSON, BytesResponse
from service.errors import InvalidInput, describe
from service.protocol.messages import (
    InferenceRequest,
    InferenceResponse,
    RequestedOutput,
    RequestTensor,
)
from service.protocol.tensors import SHAPE_RULE, RawBytes, Values, WholeNumbers, encode_bytes_tensor


def decode(
    content: bytes, header_length: str | None, budget: JsonBudget | None = None
) -> InferenceRequest:
    """A request body, with its Inference-Header-Content-Length header if it has one."""
    header, payload = binary.split(content, header_length)
    doc = body.parse_json(header, "an inference request JSON object", budget)
    if type(doc) is not dict:
        raise InvalidInput("the inference request must be a JSON object")
    request_id = doc.get("id")
    if request_id is not None and type(request_id) is not str:
        raise InvalidInput("id must be a string of at most 256 characters")
    params = _parameters(doc.get("parameters"), "parameters")
    binary_default = _flag(params, "binary_data_output", "parameters")
    inputs = _inputs(doc.get("inputs"), payload, numbers.may_hold_booleans(header))
    outputs = _outputs(doc.get("outputs"), binary_default)
    return InferenceRequest(request_id, inputs, outputs, binary_default)


# Each tensor and output is named in messages by what the client called it, cut short. The
# names are built only for a message: on the way of a good request they are not needed.
def _input(name: str) -> str:
    return f"input {describe(name)}"


def _output(name: str) -> str:
    return f"output {describe(name)}"


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


def _inputs(value: object, payload: memoryview | None, booleans: bool) -> list[RequestTensor]:
    if type(value) is not list:
        raise InvalidInput("inputs must be a list of tensors (JSON objects)")
    tensors = []
    offset = 0  # binary parts follow the header in the order of the tensors that declare one
    parts, last, declared = 0, "", 0  # binary parts; the last one's name and size, for messages
    for tensor in value:
        if type(tensor) is not dict:
            raise InvalidInput("inputs must be a list of tensors (JSON objects)")
        name = tensor.get("name")
        if type(name) is not str:
            raise InvalidInput("inputs: every tensor needs a name (a string)")
        datatype = tensor.get("datatype")
        if type(datatype) is not str:
            raise InvalidInput(f"{_input(name)}: unknown datatype {describe(datatype)}")
        shape = tensor.get("shape")
        if type(shape) is not list:
            raise InvalidInput(f"{_input(name)}: {SHAPE_RULE}")
        params = tensor.get("parameters")
        if params is not None and type(params) is not dict:
            raise InvalidInput(f"{_input(name)} parameters must be a JSON object")
        size = params.get("binary_data_size") if params else None
        content: RawBytes | Values | WholeNumbers
        if size is not None:
            content = _binary_part(tensor, size, payload, offset, name)
            offset += len(content.data)
            parts, last, declared = parts + 1, name, size
        elif "data" not in tensor:
            raise InvalidInput(f"{_input(name)}: give data, or binary_data_size with binary data")
        elif type(tensor["data"]) is np.ndarray:  # cut out of the body by numbers.loads
            content = WholeNumbers(tensor["data"])
        else:
            content = Values(tensor["data"], booleans)
        tensors.append(RequestTensor(name, datatype, shape, content))
    if payload is not None and offset != len(payload):
        if not parts:
            raise InvalidInput("the body has binary data, but no input declares binary_data_size")
        what = f"{_input(last)}: binary_data_size is {declared}"
        if parts > 1:
            what = f"the inputs' binary_data_size add up to {offset}"
        raise InvalidInput(f"{what} but {len(payload)} bytes follow the header")
    return tensors


def _binary_part(
    tensor: dict[str, object], size: object, payload: memoryview | None, offset: int, name: str
) -> RawBytes:
    if type(size) is not int or size < 0:
        raise InvalidInput(f"{_input(name)}: binary_data_size must be a non-negative integer")
    if "data" in tensor:
        raise InvalidInput(f"{_input(name)}: give either data or binary_data_size, not both")
    if payload is None:
        raise InvalidInput(
            f"{_input(name)}: binary_data_size given without an "
            "Inference-Header-Content-Length header"
        )
    if offset + size > len(payload):
        raise InvalidInput(
            f"{_input(name)}: binary_data_size is {size} but {len(payload) - offset} bytes "
            "follow the header"
        )
    return RawBytes(payload[offset : offset + size], "binary_data_size")


def _outputs(value: object, binary_default: bool) -> tuple[RequestedOutput, ...] | None:
    if value is None:
        return None
    if type(value) is not list or not value:
        raise InvalidInput("outputs must be a non-empty list")
    requested: list[RequestedOutput] = []
    for item in value:
        name = item.get("name") if type(item) is dict else None
        if type(name) is not str:
            raise InvalidInput("outputs: every output needs a name (a string)")
        params = item.get("parameters")
        if params is None:
            requested.append(RequestedOutput(name, 0, binary_default))
            continue
        if type(params) is not dict:
            raise InvalidInput(f"{_output(name)} parameters must be a JSON object")
        binary_out = params.get("binary_data", binary_default)
        if type(binary_out) is not bool:
            raise InvalidInput(f"{_output(name)}: binary_data must be true or false")
        k = params.get("classification", 0)
        if type(k) is not int or k < 0:
            raise InvalidInput(f"{_output(name)}: classification must be a non-negative integer")
        requested.append(RequestedOutput(name, k, binary_out))
    return tuple(requested)


def encode(response: InferenceResponse) -> BytesResponse:
    """The response body; binary outputs make it a two-part body."""
    doc: dict[str, object] = {
        "model_name": response.model_name,
        "model_version": response.model_version,
        "outputs": [],
    }
    if response.id is not None:
        doc["id"] = response.id
    outputs: list[dict[str, object]] = doc["outputs"]  # type: ignore[assignment]
    blobs: list[bytes] = []
    for tensor in response.outputs:
        entry: dict[str, object] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": tensor.shape,
        }
        if tensor.binary:
            data = tensor.data
            if type(data) is np.ndarray:
                blob = np.ascontiguousarray(data, dtype="<f4").tobytes()
            else:
                blob = encode_bytes_tensor([s.encode() for s in data])
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            data = tensor.data
            entry["data"] = data.ravel() if type(data) is np.ndarray else data
        outputs.append(entry)
    header = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return BytesResponse(header, JSON)
    return BytesResponse(
        b"".join([header, *blobs]),
        b"application/octet-stream",
        (_HEADER, str(len(header)).encode()),
    )


_HEADER = binary.HEADER.encode()
