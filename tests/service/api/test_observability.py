"""Metrics, request ids, structured access logs and the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.servers import RunningServer, access_logging, running

PIXELS = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [0] * 784}]}


def test_metrics_count_requests_latency_batches_and_provider(client: httpx.Client) -> None:
    client.post("/v2/models/mnist/infer", json=PIXELS)
    client.post("/v2/models/nope/infer", json=PIXELS)
    text = client.get("/metrics").text
    assert (
        'logitserve_requests_total{endpoint="v2_infer",model="mnist",status="200",version="1"}'
        in text
    )
    assert 'logitserve_requests_total{endpoint="other",model="-",status="404",version="-"}' in text
    for name in ("request_seconds", "queue_seconds", "inference_seconds", "batch_rows"):
        assert f"logitserve_{name}_bucket" in text
    assert (
        'logitserve_model_ready{model="mnist",provider="CPUExecutionProvider",version="1"} 1.0'
        in text
    )


def test_request_id_is_taken_from_the_client_or_generated(client: httpx.Client) -> None:
    assert (
        client.get("/v2/health/live", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    generated = client.get("/v2/health/live").headers["x-request-id"]
    assert len(generated) == 16
    unsafe = client.get("/v2/health/live", headers={"X-Request-ID": "a b\tc" * 50}).headers[
        "x-request-id"
    ]
    assert " " not in unsafe and len(unsafe) == 16


def test_v2_id_becomes_the_request_id(client: httpx.Client) -> None:
    r = client.post("/v2/models/mnist/infer", json={**PIXELS, "id": "from-body"})
    assert r.headers["x-request-id"] == "from-body"


def test_access_log_is_one_json_line_per_request_with_ids(
    server: RunningServer, client: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    with access_logging():
        server.access_lines(capsys)  # what earlier tests left
        client.post("/v2/models/mnist/infer?", json=PIXELS, headers={"X-Request-ID": "log-me"})
        lines = server.access_lines(capsys, at_least=1)
    assert len(lines) == 1, lines
    line = lines[0]
    assert set(line) == {
        *("ts", "level", "logger", "message", "request_id", "method", "path", "status", "ms"),
        *("model", "version"),
    }
    assert (line["level"], line["message"], line["method"]) == ("info", "request", "POST")
    assert line["ms"] > 0 and line["ts"].endswith("Z")
    assert line["request_id"] == "log-me"
    assert line["status"] == 200 and line["model"] == "mnist" and line["version"] == "1"
    assert line["path"] == "/v2/models/mnist/infer"


def test_openapi_describes_every_route_including_raw_body_inference(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
        "/v1/models/{name}/predict",
        "/v1/models/{name}/predict/image",
        "/v2/repository/index",
        "/metrics",
    ):
        assert path in paths, path
    infer = paths["/v2/models/{name}/infer"]["post"]["requestBody"]["content"]
    assert set(infer) == {"application/json", "application/octet-stream"}
    assert "RequestInput" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_docs_can_be_switched_off(repository: Path) -> None:
    with (
        running(repository, reload_interval_s=0, docs=False) as srv,
        httpx.Client(base_url=srv.url) as c,
    ):
        assert c.get("/docs").status_code == 404
        assert c.get("/openapi.json").status_code == 404


def test_metadata_reports_the_provider_in_use(server: RunningServer, client: httpx.Client) -> None:
    version = client.get("/v1/models/mnist").json()["versions"][0]
    assert version["provider"] == server.services.registry.resolve("mnist").session.provider


def test_inference_routes_take_the_gateway_shortcut(server: RunningServer) -> None:
    assert sorted(server.gateway.routes.fast_paths) == [
        "/v1/models/{name}/predict",
        "/v1/models/{name}/versions/{version}/predict",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
    ]
