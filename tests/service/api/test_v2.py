"""v2, the Open Inference Protocol, over real HTTP: health, metadata, JSON and binary
inference, classification, and its errors as {"error": ...}."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.servers import assert_still_serving, running

DIGIT = np.arange(784, dtype=np.int64) % 256


def infer(client: httpx.Client, model: str, body: object, **kw: object) -> httpx.Response:
    return client.post(f"/v2/models/{model}/infer", content=json.dumps(body), **kw)  # type: ignore[arg-type]


def pixels_input(rows: int = 1, data: object = None, **over: object) -> dict[str, object]:
    tensor = {
        "name": "pixels",
        "shape": [rows, 784],
        "datatype": "UINT8",
        "data": data if data is not None else np.tile(DIGIT, rows).tolist(),
    }
    return tensor | over


def test_server_metadata_advertises_the_extensions(client: httpx.Client) -> None:
    body = client.get("/v2").json()
    assert body["name"] == "logitserve"
    assert {"binary_tensor_data", "classification"} <= set(body["extensions"])


def test_the_model_repository_is_advertised_only_where_a_control_token_makes_it_usable(
    client: httpx.Client, repository: Path
) -> None:
    """Without a token every repository call answers 403: a client that believed /v2 would
    find the extension unusable."""
    assert "model_repository" not in client.get("/v2").json()["extensions"]
    assert client.post("/v2/repository/index").status_code == 403
    token = "a-control-token-0123456789"
    with running(repository, reload_interval_s=0, control_token=token) as srv:
        assert "model_repository" in httpx.get(srv.url + "/v2").json()["extensions"]
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.post(srv.url + "/v2/repository/index", headers=auth).status_code == 200


def test_health_live_and_ready(client: httpx.Client) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200


def test_model_metadata_describes_input_and_both_outputs(client: httpx.Client) -> None:
    meta = client.get("/v2/models/mnist").json()
    assert meta["inputs"] == [{"name": "pixels", "datatype": "UINT8", "shape": [-1, 784]}]
    assert [o["name"] for o in meta["outputs"]] == ["probabilities", "logits"]
    assert meta["versions"] == ["1"]
    assert client.get("/v2/models/mnist/versions/1").json() == meta


def test_model_ready_with_and_without_version(client: httpx.Client) -> None:
    assert client.get("/v2/models/mnist/ready").status_code == 200
    assert client.get("/v2/models/mnist/versions/1/ready").status_code == 200
    assert client.get("/v2/models/mnist/versions/9/ready").status_code == 404


def test_course_dense_example_end_to_end(client: httpx.Client) -> None:
    """A = [[200, 17]], W = [[1, -3, 5], [-2, 4, -6]], b = [-1, 1, 2]: Z = [165, -531, 900]."""
    body = {
        "inputs": [{"name": "features", "shape": [1, 2], "datatype": "FP32", "data": [200, 17]}]
    }
    out = {o["name"]: o for o in infer(client, "course", body).json()["outputs"]}
    assert out["logits"]["data"] == [165.0, -531.0, 900.0]
    assert np.round(out["probabilities"]["data"]).tolist() == [1.0, 0.0, 1.0]


def test_infer_json_flat_and_nested_agree_and_echo_the_id(client: httpx.Client) -> None:
    flat = infer(client, "mnist", {"id": "req-7", "inputs": [pixels_input(2)]})
    assert flat.status_code == 200, flat.text
    nested = infer(client, "mnist", {"inputs": [pixels_input(2, np.tile(DIGIT, (2, 1)).tolist())]})
    assert flat.json()["id"] == "req-7"
    assert flat.headers["x-request-id"] == "req-7"
    assert flat.json()["outputs"] == nested.json()["outputs"]
    probs = np.array(flat.json()["outputs"][0]["data"]).reshape(2, 10)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_infer_addresses_an_explicit_version(client: httpx.Client) -> None:
    r = client.post("/v2/models/mnist/versions/1/infer", json={"inputs": [pixels_input()]})
    assert r.status_code == 200 and r.json()["model_version"] == "1"


def test_infer_requested_output_only(client: httpx.Client) -> None:
    body = {"inputs": [pixels_input()], "outputs": [{"name": "logits"}]}
    outputs = infer(client, "mnist", body).json()["outputs"]
    assert [o["name"] for o in outputs] == ["logits"]


def test_classification_extension_gives_score_index_label(client: httpx.Client) -> None:
    body = {
        "inputs": [pixels_input(2)],
        "outputs": [{"name": "probabilities", "parameters": {"classification": 3}}],
    }
    out = infer(client, "mnist", body).json()["outputs"][0]
    assert out["datatype"] == "BYTES" and out["shape"] == [2, 3]
    scores = [float(s.split(":")[0]) for s in out["data"][:3]]
    assert scores == sorted(scores, reverse=True)
    score, index, label = out["data"][0].split(":")
    assert label == index  # mnist's labels are its digits


def test_binary_input_and_output(client: httpx.Client) -> None:
    rows = np.tile(DIGIT, (3, 1)).astype(np.uint8)
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "pixels",
                    "shape": [3, 784],
                    "datatype": "UINT8",
                    "parameters": {"binary_data_size": rows.nbytes},
                }
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()
    r = client.post(
        "/v2/models/mnist/infer",
        content=header + rows.tobytes(),
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert r.status_code == 200, r.text
    n = int(r.headers["inference-header-content-length"])
    meta = json.loads(r.content[:n])
    size = meta["outputs"][0]["parameters"]["binary_data_size"]
    assert r.headers["content-type"] == "application/octet-stream"
    assert int(r.headers["content-length"]) == len(r.content) == n + size
    assert r.headers["x-request-id"]
    probs = np.frombuffer(r.content[n : n + size], dtype="<f4").reshape(3, 10)
    json_probs = infer(client, "mnist", {"inputs": [pixels_input(3)]}).json()["outputs"][0]["data"]
    assert np.allclose(probs.ravel(), json_probs, atol=1e-6)


def test_binary_classification_output_is_length_prefixed(client: httpx.Client) -> None:
    body = {
        "inputs": [pixels_input()],
        "outputs": [
            {"name": "probabilities", "parameters": {"classification": 2, "binary_data": True}}
        ],
    }
    r = infer(client, "mnist", body)
    n = int(r.headers["inference-header-content-length"])
    blob = r.content[n:]
    first_len = struct.unpack("<I", blob[:4])[0]
    assert blob[4 : 4 + first_len].decode().count(":") == 2


def test_binary_models_classify_their_one_column(client: httpx.Client) -> None:
    body = {
        "inputs": [
            {"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [20, 5, 3, 7]}
        ],
        "outputs": [{"name": "probabilities", "parameters": {"classification": 2}}],
    }
    data = infer(client, "tshirt", body).json()["outputs"][0]["data"]
    assert len(data) == 1 and data[0].split(":", 1)[1] == "0:top seller"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"inputs": [pixels_input(data=[1] * 783)]}, 400, "does not match shape"),
        ({"inputs": [pixels_input(data=[300] * 784)]}, 400, "0-255"),
        ({"inputs": [pixels_input(data=[True] * 784)]}, 400, "true/false"),
        ({"inputs": [pixels_input(data=["3"] * 784)]}, 400, "strings are not numbers"),
        ({"inputs": [pixels_input(datatype="FP32")]}, 400, "takes UINT8"),
        ({"inputs": [pixels_input(datatype="FOO")]}, 400, "unknown datatype"),
        ({"inputs": [pixels_input(name="x")]}, 400, "has one input, 'pixels'"),
        ({"inputs": [pixels_input(shape=[1, 28, 28])]}, 400, "shape must be [batch, 784]"),
        ({"inputs": []}, 400, "list of one tensor"),
        ({"inputs": [pixels_input()], "outputs": [{"name": "nope"}]}, 400, "has outputs"),
        ([1, 2], 400, "JSON object"),
    ],
)
def test_bad_inference_requests_get_400_naming_the_problem(
    client: httpx.Client, body: object, status: int, words: str
) -> None:
    r = infer(client, "mnist", body)
    assert r.status_code == status
    assert words in r.json()["error"]
    assert_still_serving(client)


def test_nan_and_infinity_in_fp32_input_are_refused(client: httpx.Client) -> None:
    for text in ["NaN", "Infinity", "1e999"]:
        tensor = f'{{"name":"features","shape":[1,4],"datatype":"FP32","data":[1,2,3,{text}]}}'
        raw = f'{{"inputs":[{tensor}]}}'
        r = client.post("/v2/models/tshirt/infer", content=raw)
        assert r.status_code == 400, text
        assert "error" in r.json()


def test_binary_size_must_match_the_shape(client: httpx.Client) -> None:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "pixels",
                    "shape": [1, 784],
                    "datatype": "UINT8",
                    "parameters": {"binary_data_size": 100},
                }
            ]
        }
    ).encode()
    r = client.post(
        "/v2/models/mnist/infer",
        content=header + bytes(100),
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert r.status_code == 400 and "needs 784 bytes" in r.json()["error"]


@pytest.mark.parametrize("value", ["abc", "-1", "0", "999999"])
def test_bad_inference_header_content_length(client: httpx.Client, value: str) -> None:
    r = client.post(
        "/v2/models/mnist/infer", content=b"{}", headers={"Inference-Header-Content-Length": value}
    )
    assert r.status_code == 400 and "Inference-Header-Content-Length" in r.json()["error"]


def test_unknown_model_is_404_naming_it(client: httpx.Client) -> None:
    r = infer(client, "nope", {"inputs": []})
    assert r.status_code == 404 and "nope" in r.json()["error"]
    assert client.get("/v2/models/nope").status_code == 404


@pytest.mark.parametrize("version", ["0", "01", "-1", "1.0"])
def test_malformed_versions_are_400(client: httpx.Client, version: str) -> None:
    r = client.post(f"/v2/models/mnist/versions/{version}/infer", json={"inputs": [pixels_input()]})
    assert r.status_code == 400 and "version" in r.json()["error"]


def test_unknown_route_is_404_json(client: httpx.Client) -> None:
    r = client.get("/v2/nothing/here")
    assert r.status_code == 404 and r.json() == {"error": "no such route"}


def test_inference_on_the_event_loop_answers_as_the_thread_does(
    client: httpx.Client, repository: Path
) -> None:
    body = {"inputs": [pixels_input(3)]}
    expected = infer(client, "mnist", body).json()
    with (
        running(repository, reload_interval_s=0, inference_threads=0) as srv,
        httpx.Client(base_url=srv.url, timeout=10) as on_the_loop,
    ):
        got = infer(on_the_loop, "mnist", body)
    assert got.status_code == 200
    assert got.json()["outputs"] == expected["outputs"]
