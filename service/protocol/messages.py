"""The inference request and response as the data plane sees them: the Open Inference
Protocol's messages, free of any transport.

A transport decodes its wire format into an `InferenceRequest`, hands it to
`DataPlane.infer`, and encodes the `InferenceResponse` it gets back. HTTP's JSON and binary
bodies do it in api/v2_codec.py; gRPC's messages map field for field:

    ModelInferRequest                        InferenceRequest
      id                                       id
      inputs[i].name, datatype, shape          inputs[i].name, datatype, shape
      inputs[i].contents.<type>_contents       inputs[i].content = Values(list(..), False)
      raw_input_contents[i]                    inputs[i].content = RawBytes(raw, "raw_input_...")
      outputs[j].name                          outputs[j].name
      outputs[j].parameters["classification"]  outputs[j].classification
      (no outputs: an empty list)              outputs = None: every output

    InferenceResponse                        ModelInferResponse
      model_name, model_version, id            model_name, model_version, id
      outputs[j]: FP32 array                   outputs[j], raw_output_contents[j]
      outputs[j]: BYTES strings                outputs[j].contents.bytes_contents

What is checked where: a codec checks that its wire format is well formed (types, sizes of
binary parts, a classification that is a non-negative integer); the data plane checks the
request against the model (the id's length, input name, datatype, shape, limits, output
names) and is the same for every transport.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from service.protocol.tensors import Content


# Built for every request: slots, not frozen (a frozen dataclass costs ~1 us to build here).
@dataclass(slots=True)
class RequestTensor:
    name: str
    datatype: str
    shape: list[int]  # as the client declared it (JSON: any list); the data plane checks it
    content: Content


@dataclass(slots=True)
class RequestedOutput:
    name: str
    classification: int = 0  # > 0: the top k classes as 'score:index:label' strings
    binary: bool = False  # HTTP's binary_data; other transports have their own encoding


@dataclass(slots=True)
class InferenceRequest:
    id: str | None
    inputs: list[RequestTensor]
    outputs: tuple[RequestedOutput, ...] | None  # None: every output the model has
    binary_outputs: bool = False  # HTTP's binary_data_output: for outputs = None


@dataclass(slots=True)
class OutputTensor:
    name: str
    datatype: str  # FP32, or BYTES for classification strings
    shape: list[int]
    data: np.ndarray | list[str]  # FP32: (n, K) array; BYTES: row-major strings
    binary: bool


@dataclass(slots=True)
class InferenceResponse:
    model_name: str
    model_version: str
    id: str | None
    outputs: list[OutputTensor]
