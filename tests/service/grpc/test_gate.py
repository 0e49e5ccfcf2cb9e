"""What every gRPC call goes through, as HTTP requests do: API keys and the control token from
metadata, message and metadata size limits, request ids, the request metrics and the access
log; and the plain grpc.health.v1 check a Kubernetes probe makes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from tests.servers import RunningServer, access_logging, free_port, running

KEY = "a-grpc-key-of-some-length-3f9b"
TOKEN = "a-grpc-control-token-8e21c"


def _pixels(rows: int = 1) -> list[grpcclient.InferInput]:
    tensor = grpcclient.InferInput("pixels", [rows, 784], "UINT8")
    tensor.set_data_from_numpy(np.zeros((rows, 784), np.uint8))
    return [tensor]


@pytest.fixture(scope="module")
def guarded(repository: Path) -> Iterator[RunningServer]:
    """API keys and a control token configured, a 1 MiB body limit, a 2 KiB header limit."""
    with running(
        repository,
        reload_interval_s=0,
        grpc_port=free_port(),
        api_keys=[KEY],
        control_token=TOKEN,
        max_body_bytes=1024 * 1024,
        max_header_bytes=2048,
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def triton(guarded: RunningServer) -> Iterator[grpcclient.InferenceServerClient]:
    client = grpcclient.InferenceServerClient(url=guarded.grpc_target)
    yield client
    client.close()


def test_inference_needs_an_api_key_as_bearer_or_x_api_key(
    triton: grpcclient.InferenceServerClient,
) -> None:
    with pytest.raises(InferenceServerException, match="needs an API key") as error:
        triton.infer("mnist", _pixels())
    assert error.value.status() == "StatusCode.UNAUTHENTICATED"
    with pytest.raises(InferenceServerException) as wrong:
        triton.infer("mnist", _pixels(), headers={"authorization": "Bearer " + "x" * 24})
    assert wrong.value.status() == "StatusCode.UNAUTHENTICATED"
    for headers in ({"authorization": f"Bearer {KEY}"}, {"x-api-key": KEY}):
        result = triton.infer("mnist", _pixels(), headers=headers)
        assert result.as_numpy("probabilities").shape == (1, 10)


def test_health_and_metadata_need_no_key(triton: grpcclient.InferenceServerClient) -> None:
    assert triton.is_server_ready() and triton.is_model_ready("mnist")
    assert triton.get_model_metadata("mnist").name == "mnist"
    assert triton.get_model_config("mnist").config.name == "mnist"


def test_repository_calls_need_the_control_token(
    triton: grpcclient.InferenceServerClient,
) -> None:
    with pytest.raises(InferenceServerException, match="control token") as error:
        triton.get_model_repository_index()
    assert error.value.status() == "StatusCode.UNAUTHENTICATED"
    with pytest.raises(InferenceServerException, match="control token"):
        triton.unload_model("tshirt", headers={"authorization": f"Bearer {KEY}"})
    auth = {"authorization": f"Bearer {TOKEN}"}
    index = triton.get_model_repository_index(headers=auth, as_json=True)["models"]
    assert {"name": "mnist", "version": "1", "state": "READY"}.items() <= index[0].items() or any(
        entry["name"] == "mnist" and entry["state"] == "READY" for entry in index
    )
    triton.unload_model("tshirt", headers=auth)
    assert not triton.is_model_ready("tshirt")
    triton.load_model("tshirt", headers=auth)
    assert triton.is_model_ready("tshirt")
    with pytest.raises(InferenceServerException, match="name only") as refused:
        triton.load_model("tshirt", headers=auth, config='{"max_batch_size": 1}')
    assert refused.value.status() == "StatusCode.INVALID_ARGUMENT"


def test_repository_calls_are_refused_when_control_is_off(server: RunningServer) -> None:
    client = grpcclient.InferenceServerClient(url=server.grpc_target)
    with pytest.raises(InferenceServerException, match="model control is off") as error:
        client.unload_model("mnist", headers={"authorization": f"Bearer {TOKEN}"})
    assert error.value.status() == "StatusCode.PERMISSION_DENIED"
    assert client.is_model_ready("mnist")
    client.close()


def test_a_message_over_the_body_limit_is_refused_and_the_server_serves_on(
    triton: grpcclient.InferenceServerClient,
) -> None:
    headers = {"x-api-key": KEY}
    with pytest.raises(InferenceServerException) as error:
        triton.infer("mnist", _pixels(2000), headers=headers)  # 1.5 MiB > 1 MiB
    assert error.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
    assert triton.infer("mnist", _pixels(1000), headers=headers).as_numpy("logits").shape == (
        1000,
        10,
    )


def test_metadata_over_the_header_limit_is_refused(guarded: RunningServer) -> None:
    with grpc.insecure_channel(guarded.grpc_target) as channel:
        call = channel.unary_unary("/inference.GRPCInferenceService/ServerLive")
        with pytest.raises(grpc.RpcError) as error:
            call(b"", metadata=[("x-filler", "f" * 4096)], timeout=10)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.value


def test_request_ids_metrics_and_the_access_log_are_the_http_ones(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = channel.unary_unary("/inference.GRPCInferenceService/ModelReady")
        with access_logging():
            _, answer = call.with_call(b"\n\x05mnist", metadata=[("x-request-id", "probe-7")])
            lines = [x for x in server.access_lines(capsys, 1) if x["request_id"] == "probe-7"]
    assert ("x-request-id", "probe-7") in answer.trailing_metadata()
    assert [(x["method"], x["status"]) for x in lines] == [("GRPC", 200)]
    assert lines[0]["path"] == "/inference.GRPCInferenceService/ModelReady"
    triton = grpcclient.InferenceServerClient(url=server.grpc_target)
    triton.infer("mnist", _pixels())
    with pytest.raises(InferenceServerException):
        triton.infer("nope", _pixels())
    triton.close()
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'endpoint="grpc_infer",model="mnist",status="200",version="1"' in metrics
    assert 'endpoint="other",model="-",status="404",version="-"' in metrics


# grpc.health.v1 by hand: HealthCheckRequest{service} is field 1, a string; the response's
# status is field 1, a varint (1 SERVING, 2 NOT_SERVING).
def _health(target: str, service: str) -> bytes:
    encoded = service.encode()
    with grpc.insecure_channel(target) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        answer: bytes = check(bytes([0x0A, len(encoded)]) + encoded, timeout=10)
        return answer


def test_grpc_health_says_live_and_ready(server: RunningServer) -> None:
    assert _health(server.grpc_target, "") == b"\x08\x01"
    assert _health(server.grpc_target, "inference.GRPCInferenceService") == b"\x08\x01"
    with pytest.raises(grpc.RpcError) as error:
        _health(server.grpc_target, "other.Service")
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_grpc_health_is_not_serving_while_a_model_is_not_ready(tmp_path: Path) -> None:
    (tmp_path / "broken" / "1").mkdir(parents=True)
    with running(tmp_path, reload_interval_s=0, grpc_port=free_port()) as srv:
        assert _health(srv.grpc_target, "") == b"\x08\x01"  # live
        assert _health(srv.grpc_target, "inference.GRPCInferenceService") == b"\x08\x02"
        client = grpcclient.InferenceServerClient(url=srv.grpc_target)
        assert client.is_server_live() and not client.is_server_ready()
        with pytest.raises(InferenceServerException, match="not ready") as error:
            client.infer("broken", _pixels())
        assert error.value.status() == "StatusCode.UNAVAILABLE"
        client.close()


def test_every_call_served_is_declared_and_those_that_run_a_model_need_a_key() -> None:
    from service.grpc.generated import grpc_service_pb2
    from service.grpc.inference import RPCS, InferenceService

    served = {name for name in vars(InferenceService) if name[0].isupper()}
    assert served == set(RPCS)
    methods = grpc_service_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"].methods_by_name
    for name, rpc in RPCS.items():
        assert name in methods and rpc.path == f"/inference.GRPCInferenceService/{name}"
    assert {n for n, r in RPCS.items() if r.needs == "api key"} == {"ModelInfer"}
    controlled = {n for n, r in RPCS.items() if r.needs == "control token"}
    assert controlled == {n for n in RPCS if n.startswith("Repository")}


def test_guessing_credentials_is_throttled_per_address_over_both_transports(
    repository: Path,
) -> None:
    """Before: the control token could be guessed at 700 tries a second per HTTP connection
    and 1,060 over gRPC. Here an address that has failed its allowance, over either
    transport, is refused even the right token until it has waited; others are not."""
    with running(
        repository,
        reload_interval_s=0,
        grpc_port=free_port(),
        control_token=TOKEN,
        api_keys=[KEY],
        auth_failures_per_minute=6,
    ) as srv:
        wrong = {"authorization": "Bearer a-wrong-guess-of-some-length"}
        right = {"authorization": f"Bearer {TOKEN}"}
        client = grpcclient.InferenceServerClient(url=srv.grpc_target)
        with httpx.Client(base_url=srv.url) as http:
            for _ in range(4):
                assert http.post("/v2/repository/index", headers=wrong).status_code == 401
            for _ in range(2):
                with pytest.raises(InferenceServerException) as guessed:
                    client.get_model_repository_index(headers=wrong)
                assert guessed.value.status() == "StatusCode.UNAUTHENTICATED"
            throttled = http.post("/v2/repository/index", headers=right)
            assert throttled.status_code == 429
            assert throttled.json()["error"].startswith("too many failed attempts")
            assert int(throttled.headers["retry-after"]) >= 1
            r = http.post(
                "/v1/models/tshirt/predict",
                json={"instances": [[1, 2, 3, 4]]},
                headers={"x-api-key": KEY},
            )
            assert r.status_code == 429  # a key is a credential too: not compared meanwhile
        with pytest.raises(InferenceServerException) as refused:
            client.get_model_repository_index(headers=right)
        assert refused.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
        client.close()
        elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=srv.url, transport=elsewhere) as other:
            assert other.post("/v2/repository/index", headers=right).status_code == 200
        assert httpx.get(f"{srv.url}/v2/health/live").status_code == 200  # no credential
