"""Triton's statistics and model configuration extensions over HTTP, read by tritonclient's
own calls, and the smaller points where the protocol's exact words apply: the model-ready
body, the extensions advertised, and gzip for large responses."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from service.api.compression import MIN_BYTES, accepted
from tests.servers import RunningServer

PIXELS = (np.arange(784) % 256).astype(np.uint8)


@pytest.fixture
def triton(server: RunningServer) -> Iterator[httpclient.InferenceServerClient]:
    client = httpclient.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    yield client
    client.close()


def _infer(triton: httpclient.InferenceServerClient, model: str, rows: int) -> None:
    tensor = httpclient.InferInput("pixels", [rows, 784], "UINT8")
    tensor.set_data_from_numpy(np.tile(PIXELS, (rows, 1)))
    triton.infer(model, [tensor])


def _stats(triton: httpclient.InferenceServerClient, model: str) -> dict[str, Any]:
    [entry] = triton.get_inference_statistics(model)["model_stats"]
    return dict(entry)


def test_statistics_count_requests_rows_calls_and_failures(
    triton: httpclient.InferenceServerClient,
) -> None:
    before = _stats(triton, "mnist")
    for rows in (1, 3, 3):
        _infer(triton, "mnist", rows)
    bad = httpclient.InferInput("pixels", [1, 783], "UINT8")
    bad.set_data_from_numpy(np.zeros((1, 783), np.uint8))
    with pytest.raises(InferenceServerException):
        triton.infer("mnist", [bad])
    after = _stats(triton, "mnist")

    assert (after["name"], after["version"]) == ("mnist", "1")
    assert after["inference_count"] - before["inference_count"] == 7  # rows, as Triton counts
    assert after["execution_count"] - before["execution_count"] == 3  # one call each, alone
    stats, old = after["inference_stats"], before["inference_stats"]
    for kind in ("success", "queue", "compute_input", "compute_infer", "compute_output"):
        assert stats[kind]["count"] - old[kind]["count"] == 3, kind
        assert stats[kind]["ns"] > old[kind]["ns"], kind
    assert stats["fail"]["count"] - old["fail"]["count"] == 1
    # The whole of a request takes longer than the call inside it.
    assert stats["success"]["ns"] >= stats["compute_infer"]["ns"]
    sizes = {b["batch_size"]: b for b in after["batch_stats"]}
    assert sizes[3]["compute_infer"]["count"] >= 2 and sizes[3]["compute_infer"]["ns"] > 0
    assert after["last_inference"] > 1_700_000_000_000  # milliseconds since the epoch


def test_statistics_of_every_model_of_a_version_and_of_nothing_there(
    triton: httpclient.InferenceServerClient, client: httpx.Client
) -> None:
    names = {entry["name"] for entry in triton.get_inference_statistics()["model_stats"]}
    assert names == {"mnist", "mnist-cnn", "multilabel", "tshirt", "course"}
    [entry] = triton.get_inference_statistics("mnist", "1")["model_stats"]
    assert entry["version"] == "1"
    r = client.get("/v2/models/nope/stats")
    assert r.status_code == 404 and "unknown model 'nope'" in r.json()["error"]
    assert client.get("/v2/models/mnist/versions/9/stats").status_code == 404


def test_model_config_is_tritons_for_the_model(triton: httpclient.InferenceServerClient) -> None:
    config = triton.get_model_config("mnist-cnn")
    assert (config["name"], config["platform"], config["backend"]) == (
        "mnist-cnn",
        "onnxruntime_onnx",
        "onnxruntime",
    )
    [tensor] = config["input"]
    assert (tensor["name"], tensor["data_type"], tensor["dims"]) == (
        "pixels",
        "TYPE_UINT8",
        [28, 28],
    )
    assert [(o["name"], o["data_type"], o["dims"]) for o in config["output"]] == [
        ("probabilities", "TYPE_FP32", [10]),
        ("logits", "TYPE_FP32", [10]),
    ]
    assert config["max_batch_size"] == 8192  # the most instances one request may carry
    assert config["dynamic_batching"]["preferred_batch_size"] == [256]
    assert config["version_policy"] == {"all": {}}
    assert config["instance_group"][0]["kind"] == "KIND_CPU"  # the provider really in use
    tabular = triton.get_model_config("tshirt", "1")["input"][0]
    assert (tabular["data_type"], tabular["dims"]) == ("TYPE_FP32", [4])


def test_model_config_of_nothing_there_is_refused(client: httpx.Client) -> None:
    assert client.get("/v2/models/nope/config").status_code == 404
    assert client.get("/v2/models/mnist/versions/3/config").status_code == 404


def test_server_metadata_advertises_the_extensions(
    triton: httpclient.InferenceServerClient,
) -> None:
    extensions = set(triton.get_server_metadata()["extensions"])
    assert {"classification", "binary_tensor_data"} <= extensions
    assert {"statistics", "model_configuration"} <= extensions


def test_model_ready_says_which_model_is_ready(client: httpx.Client) -> None:
    assert client.get("/v2/models/mnist/ready").json() == {"name": "mnist", "ready": True}
    r = client.get("/v2/models/mnist/versions/1/ready")
    assert r.json() == {"name": "mnist", "ready": True}


def _large_body(rows: int = 512) -> bytes:
    return json.dumps(
        {
            "inputs": [
                {
                    "name": "pixels",
                    "shape": [rows, 784],
                    "datatype": "UINT8",
                    "data": np.tile(PIXELS, rows).tolist(),
                }
            ]
        }
    ).encode()


def test_large_responses_are_gzipped_when_the_client_asks(client: httpx.Client) -> None:
    body = _large_body()
    plain = client.post(
        "/v2/models/mnist/infer", content=body, headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers and len(plain.content) > MIN_BYTES
    with client.stream(
        "POST", "/v2/models/mnist/infer", content=body, headers={"Accept-Encoding": "gzip"}
    ) as r:
        raw = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "gzip" and len(raw) < len(plain.content) / 2
    assert json.loads(gzip.decompress(raw)) == plain.json()


def test_small_responses_go_out_as_they_are(client: httpx.Client) -> None:
    r = client.post(
        "/v2/models/mnist/infer", content=_large_body(1), headers={"Accept-Encoding": "gzip"}
    )
    assert r.status_code == 200 and "content-encoding" not in r.headers


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        ("gzip", "gzip"),
        ("deflate, gzip;q=0.5", "gzip"),
        ("gzip;q=0, deflate", "deflate"),
        ("br", None),
        ("identity", None),
        ("gzip;q=nonsense", None),
        ("gzip;q=٠.٥", None),  # ASCII digits only, as everywhere
        ("", None),
    ],
)
def test_accept_encoding_is_read_with_its_weights(header: str, coding: str | None) -> None:
    assert accepted(header) == coding
