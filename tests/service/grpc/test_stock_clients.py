"""Triton's stock clients, unchanged, against one server speaking HTTP and gRPC: every model
of the standard repository x every way of sending a tensor (HTTP JSON, HTTP binary, gRPC
raw_input_contents, gRPC typed contents) x with and without classification, each answer
compared with ONNX Runtime run directly; and each client's errors."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.grpc.aio as grpcaio
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from tests.servers import RunningServer
from tests.service.grpc.conftest import MODELS, Case, check_classes

WAYS = ["http-json", "http-binary", "grpc-raw", "grpc-contents"]


@pytest.fixture(scope="module")
def http(server: RunningServer) -> Iterator[httpclient.InferenceServerClient]:
    client = httpclient.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    yield client
    client.close()


@pytest.fixture(scope="module")
def grpc_client(server: RunningServer) -> Iterator[grpcclient.InferenceServerClient]:
    client = grpcclient.InferenceServerClient(url=server.grpc_target)
    yield client
    client.close()


@pytest.fixture(scope="module")
def stub(server: RunningServer) -> Iterator[service_pb2_grpc.GRPCInferenceServiceStub]:
    """tritonclient's own generated stub, for what its client cannot send: typed contents."""
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)


def _infer_typed(
    stub: service_pb2_grpc.GRPCInferenceServiceStub, case: Case, outputs: dict[str, int]
) -> dict[str, np.ndarray]:
    request = service_pb2.ModelInferRequest(model_name=case.model, id="typed")
    tensor = request.inputs.add(name=case.input, datatype=case.datatype, shape=case.rows.shape)
    if case.datatype == "UINT8":
        tensor.contents.uint_contents.extend(case.rows.ravel().tolist())
    else:
        tensor.contents.fp32_contents.extend(case.rows.ravel().tolist())
    for name, k in outputs.items():
        wanted = request.outputs.add(name=name)
        if k:
            wanted.parameters["classification"].int64_param = k
    response = stub.ModelInfer(request)
    assert response.id == "typed" and response.model_name == case.model
    result = grpcclient.InferResult(response)
    return {name: result.as_numpy(name) for name in outputs}


def infer(
    way: str,
    case: Case,
    outputs: dict[str, int],
    http: httpclient.InferenceServerClient,
    grpc_client: grpcclient.InferenceServerClient,
    stub: service_pb2_grpc.GRPCInferenceServiceStub,
) -> dict[str, np.ndarray]:
    """The outputs asked for (name: class count, 0 for the tensor) the way given."""
    if way == "grpc-contents":
        return _infer_typed(stub, case, outputs)
    if way.startswith("http"):
        binary = way == "http-binary"
        tensor = httpclient.InferInput(case.input, list(case.rows.shape), case.datatype)
        tensor.set_data_from_numpy(case.rows, binary_data=binary)
        asked = [
            httpclient.InferRequestedOutput(name, binary_data=binary, class_count=k)
            for name, k in outputs.items()
        ]
        result = http.infer(case.model, [tensor], outputs=asked)
    else:
        tensor = grpcclient.InferInput(case.input, list(case.rows.shape), case.datatype)
        tensor.set_data_from_numpy(case.rows)
        asked = [grpcclient.InferRequestedOutput(n, class_count=k) for n, k in outputs.items()]
        result = grpc_client.infer(case.model, [tensor], outputs=asked)
    return {name: result.as_numpy(name) for name in outputs}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("model", MODELS)
def test_every_way_returns_what_onnx_runtime_computes(
    model: str,
    way: str,
    cases: dict[str, Case],
    http: httpclient.InferenceServerClient,
    grpc_client: grpcclient.InferenceServerClient,
    stub: service_pb2_grpc.GRPCInferenceServiceStub,
) -> None:
    case = cases[model]
    got = infer(way, case, {"probabilities": 0, "logits": 0}, http, grpc_client, stub)
    assert np.allclose(got["logits"], case.logits, atol=1e-4)
    assert np.allclose(got["probabilities"], case.probabilities, atol=1e-5)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("model", MODELS)
def test_every_way_classifies_by_the_tensor_asked_for(
    model: str,
    way: str,
    cases: dict[str, Case],
    http: httpclient.InferenceServerClient,
    grpc_client: grpcclient.InferenceServerClient,
    stub: service_pb2_grpc.GRPCInferenceServiceStub,
) -> None:
    case = cases[model]
    got = infer(way, case, {"probabilities": 3, "logits": 2}, http, grpc_client, stub)
    check_classes(case, "probabilities", got["probabilities"], 3)
    check_classes(case, "logits", got["logits"], 2)


# What a client gets wrong, and what each transport says: the same words, HTTP's status and
# gRPC's code.
ERRORS = [
    ("mnist", "pixels", [2, 783], "UINT8", "shape must be [batch, 784]", 400, "INVALID_ARGUMENT"),
    ("mnist-cnn", "pixels", [1, 28, 28], "FP32", "takes UINT8, got FP32", 400, "INVALID_ARGUMENT"),
    (
        "multilabel",
        "image",
        [1, 28, 84],
        "UINT8",
        "has one input, 'pixels'",
        400,
        "INVALID_ARGUMENT",
    ),
    ("tshirt", "features", [1, 5], "FP32", "shape must be [batch, 4]", 400, "INVALID_ARGUMENT"),
    # One row over max_batch_size: invalid, as Triton says (it was RESOURCE_EXHAUSTED).
    (
        "course",
        "features",
        [8193, 2],
        "FP32",
        "batch-size must be <= 8192 for 'course' (got 8193)",
        400,
        "INVALID_ARGUMENT",
    ),
    (
        "course",
        "features",
        [2, 9000],
        "FP32",
        "holds more elements than the limit allows",
        413,
        "RESOURCE_EXHAUSTED",
    ),
    ("nope", "features", [1, 2], "FP32", "unknown model 'nope'", 404, "NOT_FOUND"),
]


@pytest.mark.parametrize(("model", "name", "shape", "datatype", "words", "status", "code"), ERRORS)
def test_errors_say_the_same_over_http_and_grpc(
    model: str,
    name: str,
    shape: list[int],
    datatype: str,
    words: str,
    status: int,
    code: str,
    http: httpclient.InferenceServerClient,
    grpc_client: grpcclient.InferenceServerClient,
) -> None:
    values = np.zeros(shape, dtype=np.uint8 if datatype == "UINT8" else np.float32)
    h = httpclient.InferInput(name, shape, datatype)
    h.set_data_from_numpy(values)
    with pytest.raises(InferenceServerException, match=re.escape(words)) as over_http:
        http.infer(model, [h])
    assert over_http.value.status() == str(status)
    g = grpcclient.InferInput(name, shape, datatype)
    g.set_data_from_numpy(values)
    with pytest.raises(InferenceServerException, match=re.escape(words)) as over_grpc:
        grpc_client.infer(model, [g])
    assert over_grpc.value.status() == f"StatusCode.{code}"
    assert over_grpc.value.message() == over_http.value.message()


def test_health_metadata_config_and_statistics_over_grpc(
    grpc_client: grpcclient.InferenceServerClient,
    http: httpclient.InferenceServerClient,
) -> None:
    assert grpc_client.is_server_live() and grpc_client.is_server_ready()
    assert grpc_client.is_model_ready("mnist") and grpc_client.is_model_ready("mnist", "1")
    assert not grpc_client.is_model_ready("nope") and not grpc_client.is_model_ready("mnist", "2")
    server = grpc_client.get_server_metadata(as_json=True)
    assert server == http.get_server_metadata()
    for model in MODELS:
        over_grpc = grpc_client.get_model_metadata(model, as_json=True)
        over_http = http.get_model_metadata(model)
        assert over_grpc["inputs"][0]["shape"] == [str(d) for d in over_http["inputs"][0]["shape"]]
        assert over_grpc["name"] == over_http["name"] and over_grpc["versions"] == ["1"]
        config = grpc_client.get_model_config(model, as_json=True)["config"]
        expected = http.get_model_config(model)
        assert config["input"][0]["dims"] == [str(d) for d in expected["input"][0]["dims"]]
        assert config["input"][0]["data_type"] == expected["input"][0]["data_type"]
        assert config["max_batch_size"] == expected["max_batch_size"]
    stats = grpc_client.get_inference_statistics("mnist", as_json=True)["model_stats"][0]
    assert (
        int(stats["inference_count"])
        == http.get_inference_statistics("mnist")["model_stats"][0]["inference_count"]
    )
    everything = grpc_client.get_inference_statistics(as_json=True)["model_stats"]
    assert {entry["name"] for entry in everything} == set(MODELS)
    with pytest.raises(InferenceServerException, match="unknown model 'nope'"):
        grpc_client.get_model_config("nope")


def test_the_aio_grpc_client(server: RunningServer, cases: dict[str, Case]) -> None:
    case = cases["mnist-cnn"]

    async def run() -> tuple[bool, np.ndarray, np.ndarray, str]:
        client = grpcaio.InferenceServerClient(url=server.grpc_target)
        try:
            ready = await client.is_model_ready(case.model)
            tensor = grpcaio.InferInput(case.input, list(case.rows.shape), case.datatype)
            tensor.set_data_from_numpy(case.rows)
            outputs = [
                grpcaio.InferRequestedOutput("probabilities"),
                grpcaio.InferRequestedOutput("logits", class_count=1),
            ]
            results = await asyncio.gather(
                *[client.infer(case.model, [tensor], outputs=outputs) for _ in range(8)]
            )
            with pytest.raises(InferenceServerException, match="unknown model") as error:
                await client.infer("nope", [tensor])
            return (
                ready,
                np.stack([r.as_numpy("probabilities") for r in results]),
                results[0].as_numpy("logits"),
                str(error.value.status()),
            )
        finally:
            await client.close()

    ready, probabilities, classes, status = asyncio.run(run())
    assert ready and status == "StatusCode.NOT_FOUND"
    assert np.allclose(probabilities, case.probabilities, atol=1e-5)  # all 8, concurrently
    check_classes(case, "logits", classes, 1)


def test_request_ids_come_back_and_model_versions_are_addressed(
    grpc_client: grpcclient.InferenceServerClient, cases: dict[str, Case]
) -> None:
    case = cases["tshirt"]
    tensor = grpcclient.InferInput(case.input, list(case.rows.shape), case.datatype)
    tensor.set_data_from_numpy(case.rows)
    result = grpc_client.infer("tshirt", [tensor], model_version="1", request_id="order-42")
    response = result.get_response()
    assert (response.id, response.model_version) == ("order-42", "1")
    with pytest.raises(InferenceServerException, match="has no version 2") as error:
        grpc_client.infer("tshirt", [tensor], model_version="2")
    assert error.value.status() == "StatusCode.NOT_FOUND"
