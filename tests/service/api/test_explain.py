"""`?explain=true` over HTTP, on v1's JSON rows and image uploads: each prediction carries an
explanation of its top class, its bounds are 400s naming them, and a blank image is said to
be blank instead of answered with confidence."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.servers import RunningServer, running

ROOT = Path(__file__).resolve().parents[3]
SEVEN = json.loads((ROOT / "docs/examples/mnist-7.json").read_text())


@pytest.fixture(scope="module")
def shipped(shipped_models: Path) -> Iterator[httpx.Client]:
    with (
        running(shipped_models, reload_interval_s=0) as srv,
        httpx.Client(base_url=srv.url, timeout=30) as client,
    ):
        yield client


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_json_pixels_are_explained_with_a_map_over_the_input(shipped: httpx.Client) -> None:
    r = shipped.post("/v1/models/mnist-cnn/predict?explain=true", json=SEVEN)
    assert r.status_code == 200, r.text
    [prediction] = r.json()["predictions"]
    explanation = prediction["explanation"]
    assert explanation["method"] == "occlusion" and explanation["label"] == prediction["label"]
    heat = np.array(explanation["attributions"])
    assert heat.shape == (28, 28) and heat.max() > 0.05
    assert "warning" not in prediction


def test_uploads_are_explained_over_the_models_input(shipped: httpx.Client) -> None:
    photo = (ROOT / "docs/examples/digit-3.jpg").read_bytes()
    r = shipped.post(
        "/v1/models/multilabel/versions/1/predict/image?explain=true",
        files=[("files", ("a.jpg", photo)), ("files", ("b.jpg", photo))],
    )
    assert r.status_code == 200, r.text
    for prediction in r.json()["predictions"]:
        assert np.array(prediction["explanation"]["attributions"]).shape == (28, 84)


def test_tabular_rows_get_a_signed_value_per_feature(shipped: httpx.Client) -> None:
    rows = {"instances": [{"temperature": 200, "duration": 13.9}, [280, 15]]}
    r = shipped.post("/v1/models/coffee/predict?explain=1", json=rows)
    assert r.status_code == 200, r.text
    for prediction in r.json()["predictions"]:
        explanation = prediction["explanation"]
        assert explanation["method"] == "sensitivity" and explanation["step"] == 0.1
        assert set(explanation["attributions"]) == {"temperature", "duration"}
        assert explanation["label"] == prediction["label"]


def test_without_explain_there_is_no_explanation(shipped: httpx.Client) -> None:
    for query in ("", "?explain=false", "?explain=0"):
        r = shipped.post(f"/v1/models/mnist/predict{query}", json=SEVEN)
        assert "explanation" not in r.json()["predictions"][0], query


@pytest.mark.parametrize("value", ["yes", "", "2"])
def test_explain_is_true_or_false(shipped: httpx.Client, value: str) -> None:
    r = shipped.post(f"/v1/models/mnist/predict?explain={value}", json=SEVEN)
    assert r.status_code == 400 and r.json() == {"error": "explain must be true or false"}


def test_explaining_more_than_eight_instances_is_refused_naming_the_limit(
    shipped: httpx.Client,
) -> None:
    nine = {"instances": SEVEN["instances"] * 9}
    r = shipped.post("/v1/models/mnist/predict?explain=true", json=nine)
    assert r.status_code == 400
    assert r.json()["error"].startswith("explain covers at most 8 instances per request; got 9")
    assert shipped.post("/v1/models/mnist/predict", json=nine).status_code == 200
    files = [("files", (f"{i}.png", png(np.zeros((28, 28))))) for i in range(9)]
    r = shipped.post("/v1/models/mnist/predict/image?explain=true", files=files)
    assert r.status_code == 400 and "at most 8 instances" in r.json()["error"]


def test_a_blank_upload_is_said_to_be_blank(shipped: httpx.Client) -> None:
    """A blank canvas was answered "1", confidently: now the answer comes with a warning."""
    for picture in (np.zeros((280, 280)), np.full((280, 280), 255)):
        upload = {"files": ("b.png", png(picture))}
        r = shipped.post("/v1/models/mnist-cnn/predict/image", files=upload)
        assert r.status_code == 200
        assert r.json()["predictions"][0]["warning"].startswith("no digit or drawing found")


def test_blank_json_pixels_are_said_to_be_blank_and_a_digit_is_not(shipped: httpx.Client) -> None:
    rows = {"instances": [[0] * 784, SEVEN["instances"][0]]}
    r = shipped.post("/v1/models/mnist/predict", json=rows)
    blank, seven = r.json()["predictions"]
    assert blank["warning"].startswith("no digit or drawing found")
    assert "warning" not in seven
    tabular = shipped.post("/v1/models/coffee/predict", json={"instances": [[0, 0]]})
    assert "warning" not in tabular.json()["predictions"][0]


def test_explain_applies_to_a_published_graph_too(tmp_path: Path, shipped: httpx.Client) -> None:
    """Any served model: here a graph brought from elsewhere, taking float pixels."""
    from tests.builders import dense_graph, image_manifest, publish

    rng = np.random.default_rng(3)
    graph = dense_graph(
        [rng.normal(0, 1, (64, 3))], [np.zeros(3)], input_type="FP32", row_shape=(8, 8)
    )
    manifest = image_manifest("eights", 1, 8, 8, flat=False, labels=["a", "b", "c"])
    manifest["input"]["datatype"] = "FP32"
    publish(tmp_path / "models", graph, manifest)
    with running(tmp_path / "models", reload_interval_s=0) as srv:
        digit = np.zeros((8, 8))
        digit[2:6, 3:5] = 255
        r = httpx.post(
            srv.url + "/v1/models/eights/predict?explain=true",
            json={"instances": [digit.tolist()]},
        )
    assert r.status_code == 200, r.text
    assert np.array(r.json()["predictions"][0]["explanation"]["attributions"]).shape == (8, 8)


def test_the_openapi_document_describes_explain(shipped: httpx.Client) -> None:
    doc = shipped.get("/openapi.json").json()
    params = doc["paths"]["/v1/models/{name}/predict/image"]["post"]["parameters"]
    explain = next(p for p in params if p["name"] == "explain")
    assert explain["schema"] == {"type": "boolean", "default": False}
    assert "Explanation" in doc["components"]["schemas"]


def test_a_multilabel_tabular_model_is_explained_too(server: RunningServer) -> None:
    """The course's dense layer (three sigmoids): its top label is explained."""
    url = server.url + "/v1/models/course/predict?explain=true"
    r = httpx.post(url, json={"instances": [[1, 2]]})
    assert r.status_code == 200
    assert set(r.json()["predictions"][0]["explanation"]["attributions"]) == {"x1", "x2"}
