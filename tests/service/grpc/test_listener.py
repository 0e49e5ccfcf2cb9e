"""The gRPC server's method table: every call of the protocol is either served (through the
gate, its message as bytes) or answered UNIMPLEMENTED with a sentence that says what is not
offered, never grpcio's "Unexpected <class 'NotImplementedError'>"."""

from __future__ import annotations

import contextlib
import queue

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from service.grpc.generated import grpc_service_pb2
from service.grpc.inference import NOT_OFFERED, RPCS
from tests.servers import RunningServer

SERVICE = "/inference.GRPCInferenceService/"


def test_every_call_of_the_protocol_is_served_or_declared_not_offered() -> None:
    methods = grpc_service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods_by_name
    assert set(RPCS) | set(NOT_OFFERED) == set(methods)
    assert not set(RPCS) & set(NOT_OFFERED)


@pytest.mark.parametrize("method", sorted(set(NOT_OFFERED) - {"ModelStreamInfer"}))
def test_calls_not_offered_say_so_in_words(server: RunningServer, method: str) -> None:
    with (
        grpc.insecure_channel(server.grpc_target) as channel,
        pytest.raises(grpc.RpcError) as error,
    ):
        channel.unary_unary(SERVICE + method)(b"", timeout=10)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error.value.details() == NOT_OFFERED[method]
    assert "NotImplementedError" not in error.value.details()


def test_streaming_inference_says_it_is_not_offered(server: RunningServer) -> None:
    client = grpcclient.InferenceServerClient(url=server.grpc_target)
    results: queue.Queue[object] = queue.Queue()
    client.start_stream(callback=lambda result, error: results.put(error))
    tensor = grpcclient.InferInput("features", [1, 4], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 4), np.float32))
    with contextlib.suppress(InferenceServerException):  # if the refusal came first
        client.async_stream_infer("tshirt", [tensor])
    error = results.get(timeout=10)
    client.stop_stream()
    client.close()
    assert isinstance(error, InferenceServerException)
    assert error.status() == "StatusCode.UNIMPLEMENTED"
    assert "streaming inference is not offered: call ModelInfer" in str(error.message())


def test_a_method_the_protocol_does_not_have_is_unimplemented(server: RunningServer) -> None:
    with (
        grpc.insecure_channel(server.grpc_target) as channel,
        pytest.raises(grpc.RpcError) as error,
    ):
        channel.unary_unary(SERVICE + "NoSuchCall")(b"", timeout=10)
    assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
