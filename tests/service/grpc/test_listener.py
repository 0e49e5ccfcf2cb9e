"""The gRPC server's method table: every call of the protocol is either served (through the
gate, its message as bytes) or answered UNIMPLEMENTED with a sentence that says what is not
offered, never grpcio's "Unexpected <class 'NotImplementedError'>"."""

from __future__ import annotations

import contextlib
import queue
import socket
import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from service.grpc.generated import grpc_service_pb2
from service.grpc.inference import NOT_OFFERED, RPCS
from tests.builders import standard_repository
from tests.servers import RunningServer, assert_still_serving, free_port, running_process
from tests.service.grpc import raw_http2

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


# -- connections and streams --------------------------------------------------------------


def _closed_soon(sock: socket.socket, within: float) -> bool:
    """Whether the server closes the connection within `within` s (reading what it sends)."""
    deadline = time.monotonic() + within
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if sock.recv(4096) == b"":
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


def test_grpc_connections_are_capped_and_http_keeps_its_descriptors(tmp_path: Path) -> None:
    """Before: 4,296 idle gRPC connections took every descriptor of a 4,096 limit, and then
    HTTP's health and predictions failed. Here 300 idle connections against a limit of 200
    descriptors: those over gRPC's own limit are closed as they come, HTTP answers."""
    repo = standard_repository(tmp_path / "repo")
    port = free_port()
    args = ("--grpc-port", str(port), "--grpc-max-connections", "16", "--max-connections", "32")
    limit = ["prlimit", "--nofile=200:200", "--"]
    with running_process(repo, *args, "--reload-interval-s", "0", prefix=limit) as srv:
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
        try:
            closed = sum(_closed_soon(sock, 0.05) for sock in idle)
            with httpx.Client(base_url=srv.url, timeout=10) as client:
                assert client.get("/v2/health/live").status_code == 200
                assert_still_serving(client)
        finally:
            for sock in idle:
                sock.close()
    assert closed >= 300 - 16 - 8  # a few may still be in the accept queue


def test_a_grpc_connection_that_never_says_anything_is_closed_at_the_header_deadline(
    tmp_path: Path,
) -> None:
    repo = standard_repository(tmp_path / "repo")
    port = free_port()
    args = ("--grpc-port", str(port), "--header-timeout-s", "1", "--reload-interval-s", "0")
    with running_process(repo, *args), socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        assert _closed_soon(sock, 10)
        assert 0.8 < time.monotonic() - started < 5


def test_streams_past_the_limit_on_one_connection_are_refused(server: RunningServer) -> None:
    """Before: no SETTINGS_MAX_CONCURRENT_STREAMS; 20,000 header-only streams on one
    connection held +413 MB and none was reset. A client that ignores the setting here has
    each stream past it refused."""
    flood = raw_http2.flood(server.grpc_target, streams=2000)
    assert flood.advertised == 100
    assert flood.refused >= 2000 - 100
    assert flood.alive
