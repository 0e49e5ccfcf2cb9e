"""The Open Inference Protocol over gRPC: a ModelInferRequest to an InferenceRequest, and an
InferenceResponse to a ModelInferResponse, field for field as messages.py maps them.

This checks that the message is well formed (one raw part per input or none, contents of
the datatype's kind, a classification that is a non-negative integer); the data plane
checks that it fits the model. Outputs always travel as `raw_output_contents`, as Triton
sends them: FP32 little-endian, BYTES as 4-byte lengths and the bytes.
"""

from __future__ import annotations

import numpy as np

from service.errors import InvalidInput, describe
from service.grpc.generated import grpc_service_pb2 as pb
from service.protocol.messages import (
    InferenceRequest,
    InferenceResponse,
    RequestedOutput,
    RequestTensor,
)
from service.protocol.tensors import Content, Numbers, RawBytes, Values, encode_bytes_tensor

# Which of InferTensorContents' fields holds each datatype's values (none for FP16: raw only).
CONTENTS = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}

# The array type each typed field's numbers are read into (protobuf's own type for them).
_DTYPES = {
    "bool_contents": np.dtype(np.bool_),
    "uint_contents": np.dtype(np.uint32),
    "uint64_contents": np.dtype(np.uint64),
    "int_contents": np.dtype(np.int32),
    "int64_contents": np.dtype(np.int64),
    "fp32_contents": np.dtype(np.float32),
    "fp64_contents": np.dtype(np.float64),
}

_InferOutputTensor = pb.ModelInferResponse.InferOutputTensor


def decode(request: pb.ModelInferRequest) -> InferenceRequest:
    raw = request.raw_input_contents
    inputs = request.inputs
    if raw and len(raw) != len(inputs):
        raise InvalidInput(
            f"raw_input_contents has {len(raw)} entries for {len(inputs)} inputs: "
            "give one per input, or none"
        )
    tensors = []
    for i, tensor in enumerate(inputs):
        content: Content
        if raw:
            if tensor.HasField("contents"):
                raise InvalidInput(
                    f"input {describe(tensor.name)}: give contents or raw_input_contents, not both"
                )
            content = RawBytes(raw[i], "raw_input_contents")
        else:
            content = _contents(tensor)
        tensors.append(RequestTensor(tensor.name, tensor.datatype, list(tensor.shape), content))
    outputs = tuple(_requested(o) for o in request.outputs) if request.outputs else None
    # Outputs always travel raw (`raw_output_contents`): binary, for the response's size bound.
    return InferenceRequest(request.id or None, tensors, outputs, binary_outputs=True)


def _contents(tensor: pb.ModelInferRequest.InferInputTensor) -> Content:
    what = f"input {describe(tensor.name)}"
    field = CONTENTS.get(tensor.datatype)
    if field is None:
        if tensor.datatype == "FP16":
            raise InvalidInput(f"{what}: FP16 values travel in raw_input_contents only")
        return Values([], False)  # an unknown datatype: the data plane names it
    given = [f.name for f, _ in tensor.contents.ListFields()]
    if not given:
        raise InvalidInput(f"{what}: no data: give raw_input_contents or contents.{field}")
    if given != [field]:
        other = next(name for name in given if name != field)
        raise InvalidInput(
            f"{what}: datatype {tensor.datatype} takes contents.{field}, not contents.{other}"
        )
    values = getattr(tensor.contents, field)
    dtype = _DTYPES.get(field)
    if dtype is None:  # BYTES: strings, which no model here takes
        return Values(list(values), False)
    # One pass in C over protobuf's repeated field: no Python list of the numbers between.
    return Numbers(np.fromiter(values, dtype, count=len(values)), f"contents.{field}")


def typed_numbers(request: pb.ModelInferRequest) -> int:
    """How many numbers the request's typed contents hold (counted, not read)."""
    total = 0
    for tensor in request.inputs:
        field = CONTENTS.get(tensor.datatype)
        if field is not None and field in _DTYPES:
            total += len(getattr(tensor.contents, field))
    return total


def _requested(output: pb.ModelInferRequest.InferRequestedOutputTensor) -> RequestedOutput:
    params = output.parameters
    if "classification" not in params:
        return RequestedOutput(output.name, binary=True)
    param = params["classification"]
    kind = param.WhichOneof("parameter_choice")
    k = getattr(param, kind) if kind in ("int64_param", "uint64_param") else -1
    if k < 0:
        raise InvalidInput(
            f"output {describe(output.name)}: classification must be a non-negative integer"
        )
    return RequestedOutput(output.name, k, binary=True)


def encode(response: InferenceResponse) -> pb.ModelInferResponse:
    outputs = []
    raw = []
    for tensor in response.outputs:
        outputs.append(
            _InferOutputTensor(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        )
        data = tensor.data
        if type(data) is np.ndarray:
            raw.append(np.ascontiguousarray(data, dtype="<f4").tobytes())
        else:
            raw.append(encode_bytes_tensor([s.encode() for s in data]))
    return pb.ModelInferResponse(
        model_name=response.model_name,
        model_version=response.model_version,
        id=response.id or "",
        outputs=outputs,
        raw_output_contents=raw,
    )
