"""A ModelInferRequest to the data plane's request and back, field for field as messages.py
maps them, and each malformed message refused, naming the problem."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from service.errors import InvalidInput
from service.grpc import codec
from service.grpc.generated import grpc_service_pb2 as pb
from service.protocol.messages import InferenceResponse, OutputTensor
from service.protocol.tensors import Numbers, RawBytes


def request(**fields: object) -> pb.ModelInferRequest:
    message = pb.ModelInferRequest(model_name="mnist", **fields)  # type: ignore[arg-type]
    return message


def test_raw_contents_become_raw_bytes_and_outputs_their_classification() -> None:
    message = request(id="r-1", raw_input_contents=[b"\x01\x02"])
    message.inputs.add(name="pixels", datatype="UINT8", shape=[1, 2])
    message.outputs.add(name="logits").parameters["classification"].int64_param = 3
    message.outputs.add(name="probabilities")
    decoded = codec.decode(message)
    assert decoded.id == "r-1"
    [tensor] = decoded.inputs
    assert (tensor.name, tensor.datatype, tensor.shape) == ("pixels", "UINT8", [1, 2])
    assert isinstance(tensor.content, RawBytes) and bytes(tensor.content.data) == b"\x01\x02"
    assert [(o.name, o.classification) for o in decoded.outputs or ()] == [
        ("logits", 3),
        ("probabilities", 0),
    ]


def test_outputs_are_binary_so_the_answer_is_bounded_by_its_raw_size() -> None:
    """gRPC answers in raw_output_contents (4 bytes a value), never JSON text: the data
    plane's response bound must count them so, or it refuses answers six times too early."""
    message = request(raw_input_contents=[b"\x01\x02"])
    message.inputs.add(name="pixels", datatype="UINT8", shape=[1, 2])
    message.outputs.add(name="probabilities")
    asked = codec.decode(message)
    assert [o.binary for o in asked.outputs or ()] == [True]
    every = codec.decode(request())
    assert every.outputs is None and every.binary_outputs


def test_typed_contents_become_arrays_of_their_type_and_no_outputs_means_every_output() -> None:
    message = request()
    message.inputs.add(name="features", datatype="FP32", shape=[1, 2]).contents.fp32_contents[:] = [
        1.5,
        -2.0,
    ]
    decoded = codec.decode(message)
    content = decoded.inputs[0].content
    assert isinstance(content, Numbers) and content.values.dtype == np.float32
    assert content.values.tolist() == [1.5, -2.0]
    assert decoded.outputs is None and decoded.id is None


def test_typed_contents_are_counted_against_the_shape_before_they_are_converted() -> None:
    message = request()
    message.inputs.add(name="pixels", datatype="UINT8", shape=[1, 3]).contents.uint_contents[:] = [
        1,
        2,
    ]
    assert codec.typed_numbers(message) == 2
    content = codec.decode(message).inputs[0].content
    with pytest.raises(
        InvalidInput, match="shape \\[1, 3\\] needs 3 values, contents.uint_contents has 2"
    ):
        content.array("UINT8", (1, 3), "input 'pixels'")


@pytest.mark.parametrize(
    ("datatype", "field", "values", "words"),
    [
        ("UINT8", "uint_contents", [1, 256], "within 0-255"),
        ("FP32", "fp32_contents", [1.0, float("nan")], "finite"),
        ("FP32", "fp32_contents", [1.0, float("inf")], "finite"),
    ],
)
def test_typed_contents_out_of_the_datatypes_range_are_refused(
    datatype: str, field: str, values: list[float], words: str
) -> None:
    message = request()
    getattr(message.inputs.add(name="x", datatype=datatype, shape=[2]).contents, field)[:] = values
    content = codec.decode(message).inputs[0].content
    with pytest.raises(InvalidInput, match=words):
        content.array(datatype, (2,), "input 'x'")


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda m: m.inputs.add(name="pixels", datatype="UINT8", shape=[1]), "no data"),
        (
            lambda m: m.inputs.add(
                name="pixels", datatype="UINT8", shape=[1]
            ).contents.fp32_contents.append(1.0),
            "takes contents.uint_contents, not contents.fp32_contents",
        ),
        (
            lambda m: m.inputs.add(name="x", datatype="FP16", shape=[1]),
            "FP16 values travel in raw_input_contents only",
        ),
        (
            lambda m: (
                m.inputs.add(name="a", datatype="UINT8", shape=[1]),
                m.inputs.add(name="b", datatype="UINT8", shape=[1]),
                m.raw_input_contents.append(b"\x00"),
            ),
            "raw_input_contents has 1 entries for 2 inputs",
        ),
        (
            lambda m: (
                m.inputs.add(name="a", datatype="UINT8", shape=[1]).contents.uint_contents.append(
                    1
                ),
                m.raw_input_contents.append(b"\x00"),
            ),
            "not both",
        ),
        (
            lambda m: (
                m.outputs.add(name="logits")
                .parameters["classification"]
                .__setattr__("string_param", "3")
            ),
            "classification must be a non-negative integer",
        ),
        (
            lambda m: (
                m.outputs.add(name="logits")
                .parameters["classification"]
                .__setattr__("int64_param", -1)
            ),
            "classification must be a non-negative integer",
        ),
    ],
)
def test_malformed_messages_are_refused_naming_the_problem(build: object, words: str) -> None:
    message = request()
    build(message)  # type: ignore[operator]
    with pytest.raises(InvalidInput, match=words):
        codec.decode(message)


def test_outputs_travel_as_raw_contents_floats_and_length_prefixed_strings() -> None:
    probabilities = np.array([[0.25, 0.75]], dtype=np.float32)
    response = InferenceResponse(
        "mnist",
        "1",
        "r-2",
        [
            OutputTensor("probabilities", "FP32", [1, 2], probabilities, False),
            OutputTensor("logits", "BYTES", [1, 1], ["1.5:1:one"], False),
        ],
    )
    message = codec.encode(response)
    assert (message.model_name, message.model_version, message.id) == ("mnist", "1", "r-2")
    assert [(o.name, o.datatype, list(o.shape)) for o in message.outputs] == [
        ("probabilities", "FP32", [1, 2]),
        ("logits", "BYTES", [1, 1]),
    ]
    floats, strings = message.raw_output_contents
    assert np.frombuffer(floats, "<f4").tolist() == [0.25, 0.75]
    assert strings == struct.pack("<I", 9) + b"1.5:1:one"
