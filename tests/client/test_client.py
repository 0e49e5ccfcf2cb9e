"""The Python client against `python -m service` in its own process on loopback: every call
it makes, the typed results, numpy views, and errors that carry the server's words."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from logitserve_client import (
    BadRequest,
    Client,
    InputError,
    NotFound,
    Predictions,
    PrimaryMetric,
    Unauthorized,
)
from tests.client.conftest import API_KEY
from tests.servers import ServerProcess

TSHIRT_ROW = {"price": 19.5, "shipping_cost": 4.0, "marketing": 12.0, "quality": 8.0}


def digit_png(width: int = 60, height: int = 80) -> bytes:
    """A dark stroke on white paper, as a phone photo of a '1' would be."""
    pixels = np.full((height, width), 255, dtype=np.uint8)
    pixels[10:70, 26:34] = 20
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def client(server: ServerProcess) -> Client:
    with Client(server.url, timeout=10) as c:
        yield c  # type: ignore[misc]


def test_lists_the_models_with_task_and_serving_version(client: Client) -> None:
    models = {m.name: m for m in client.models()}
    assert {"mnist", "mnist-cnn", "multilabel", "tshirt", "course"} <= set(models)
    assert models["mnist"].ready and models["mnist"].serving_version == 1
    assert models["tshirt"].task == "binary"
    # The test repository's versions predate the three-way split: no validation_metrics.
    assert models["mnist"].primary_metric == PrimaryMetric("accuracy", 0.5, "validation")
    assert models["tshirt"].primary_metric is None  # its manifest names none


def test_model_metadata_is_typed(client: Client) -> None:
    mnist = client.model("mnist")
    assert mnist.task == "multiclass" and mnist.labels == tuple(str(d) for d in range(10))
    assert mnist.input is not None and mnist.input.image_size == (28, 28)
    assert mnist.versions[0].version == 1 and mnist.versions[0].state == "ready"
    assert mnist.versions[0].provider == "CPUExecutionProvider"
    tshirt = client.model("tshirt", version=1)
    assert tshirt.input is not None and tshirt.input.kind == "tabular"
    assert [f.name for f in tshirt.input.features] == list(TSHIRT_ROW)
    assert tshirt.default_threshold is not None


def test_predict_from_a_numpy_array_is_what_the_raw_api_answers(
    client: Client, server: ServerProcess
) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (3, 784), dtype=np.uint8)
    result = client.predict("mnist", pixels, top_k=2)
    raw = httpx.post(
        f"{server.url}/v1/models/mnist/predict?top_k=2", json={"instances": pixels.tolist()}
    ).json()
    assert isinstance(result, Predictions)
    assert (result.model, result.version, result.task) == ("mnist", 1, "multiclass")
    assert result.labels == [p["label"] for p in raw["predictions"]]
    probabilities = result.as_numpy()
    assert probabilities.shape == (3, 10) and probabilities.dtype == np.float32
    expected = [list(p["probabilities"].values()) for p in raw["predictions"]]
    np.testing.assert_allclose(probabilities, expected, rtol=1e-6)
    assert result.class_labels == tuple(str(d) for d in range(10))
    top = result[0].top_k
    assert (
        len(top) == 2
        and top[0].label == result[0].label
        and top[0].probability >= top[1].probability
    )
    assert top[0].probability == pytest.approx(probabilities[0].max())


def test_image_rows_may_be_28_by_28_arrays_and_float_pixels(client: Client) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    as_grid = client.predict("mnist-cnn", pixels).as_numpy()
    as_floats = client.predict("mnist-cnn", pixels.astype(np.float64)).as_numpy()
    np.testing.assert_array_equal(as_grid, as_floats)


def test_lists_feature_dicts_and_one_dict_give_the_same_answer(client: Client) -> None:
    as_list = client.predict("tshirt", [list(TSHIRT_ROW.values())])
    as_dicts = client.predict("tshirt", [TSHIRT_ROW])
    as_one_dict = client.predict("tshirt", TSHIRT_ROW)
    one = client.predict_one("tshirt", {k: np.float32(v) for k, v in TSHIRT_ROW.items()})
    np.testing.assert_allclose(as_list.as_numpy(), as_dicts.as_numpy())
    np.testing.assert_allclose(as_list.as_numpy(), as_one_dict.as_numpy())
    np.testing.assert_allclose(one.as_numpy(), as_list[0].as_numpy(), rtol=1e-6)
    assert one.label in ("not top seller", "top seller") and one.labels == (one.label,)


def test_threshold_decides_a_binary_label(client: Client) -> None:
    p = client.predict_one("tshirt", TSHIRT_ROW).probabilities["top seller"]
    low = client.predict_one("tshirt", TSHIRT_ROW, threshold=max(p - 0.01, 0.001))
    high = client.predict_one("tshirt", TSHIRT_ROW, threshold=min(p + 0.01, 0.999))
    assert (low.label, high.label) == ("top seller", "not top seller")
    assert low.threshold == pytest.approx(max(p - 0.01, 0.001))


def test_multilabel_rows_list_every_label_over_the_threshold(client: Client) -> None:
    pixels = np.random.default_rng(2).integers(0, 256, (1, 28, 84), dtype=np.uint8)
    row = client.predict("multilabel", pixels, threshold=0.5)[0]
    assert row.label is None
    assert set(row.labels) == {k for k, v in row.probabilities.items() if v >= 0.5}


def test_images_from_a_path_bytes_and_an_open_file_give_one_answer_each(
    client: Client, tmp_path: Path
) -> None:
    png = digit_png()
    path = tmp_path / "one.png"
    path.write_bytes(png)
    from_path = client.predict_images("mnist", path)
    from_str = client.predict_images("mnist", str(path))
    from_bytes = client.predict_images("mnist", png)
    with path.open("rb") as f:
        from_file = client.predict_images("mnist", f)
    several = client.predict_images("mnist-cnn", [png, path], top_k=1)
    assert [len(r) for r in (from_path, from_bytes, from_file)] == [1, 1, 1]
    for other in (from_str, from_bytes, from_file):
        np.testing.assert_array_equal(from_path.as_numpy(), other.as_numpy())
    assert from_path[0].file == "one.png" and from_file[0].file == "one.png"
    assert [p.file for p in several] == ["image-0", "one.png"] and len(several[0].top_k) == 1


def test_v2_infer_with_binary_tensors_agrees_with_v1(client: Client) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (4, 784), dtype=np.uint8)
    v1 = client.predict("mnist", pixels).as_numpy()
    binary = client.infer("mnist", pixels, outputs=("probabilities", "logits"))
    as_json = client.infer("mnist", pixels, binary=False)
    assert binary.model_name == "mnist" and binary.model_version == "1"
    np.testing.assert_allclose(binary.as_numpy(), v1, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(as_json.as_numpy(), v1, rtol=1e-5, atol=1e-7)
    assert binary.as_numpy("logits").shape == (4, 10)
    with pytest.raises(KeyError, match="no output 'logits'"):
        as_json.as_numpy("logits")


def test_v2_classification_gives_triton_strings_most_probable_first(client: Client) -> None:
    pixels = np.random.default_rng(4).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    probabilities = client.predict("mnist-cnn", pixels).as_numpy()
    result = client.infer("mnist-cnn", pixels.astype(np.float32), classification=3, request_id="r1")
    strings = result.as_numpy()
    assert strings.shape == (2, 3) and result.id == "r1"
    score, index, label = strings[0, 0].split(":")
    assert int(index) == int(np.argmax(probabilities[0])) and label == index
    assert float(score) == pytest.approx(probabilities[0].max(), rel=1e-4)


def test_v2_infer_refuses_values_its_datatype_cannot_hold(client: Client) -> None:
    with pytest.raises(InputError, match="outside 0..255"):
        client.infer("mnist", np.full((1, 784), 300))
    with pytest.raises(InputError, match="NaN"):
        client.infer("mnist", np.full((1, 784), np.nan))


def test_nan_in_instances_is_refused_before_sending(client: Client) -> None:
    with pytest.raises(InputError, match="NaN or infinity"):
        client.predict("tshirt", [[np.nan, 1, 2, 3]])


def test_an_unknown_model_raises_not_found_with_the_servers_message(client: Client) -> None:
    with pytest.raises(NotFound) as caught:
        client.predict("no-such-model", [[1, 2]])
    error = caught.value
    assert error.status == 404 and "no-such-model" in error.message
    assert error.request_id and error.method == "POST" and "/predict" in error.url


def test_a_bad_row_raises_bad_request_naming_the_problem(client: Client) -> None:
    with pytest.raises(BadRequest) as caught:
        client.predict("tshirt", [{"price": 10}])
    assert caught.value.status == 400 and "missing" in caught.value.message
    with pytest.raises(BadRequest, match="top_k"):
        client.predict("mnist", [[0] * 784], top_k=0)


def test_a_file_that_is_not_an_image_raises_the_servers_415(client: Client) -> None:
    with pytest.raises(BadRequest) as caught:
        client.predict_images("mnist", b"GIF89a not a png")
    assert caught.value.status == 415 and "PNG and JPEG" in caught.value.message


def test_ready_reports_the_server_and_each_model(client: Client) -> None:
    assert client.ready() and client.ready("mnist") and client.ready("mnist", version=1)
    with pytest.raises(NotFound):
        client.ready("no-such-model")


def test_prediction_routes_need_the_api_key_when_the_server_has_keys(
    keyed_server: ServerProcess,
) -> None:
    with Client(keyed_server.url) as anonymous:
        assert {m.name for m in anonymous.models()} >= {"mnist"}  # listings stay open
        with pytest.raises(Unauthorized) as caught:
            anonymous.predict_one("tshirt", TSHIRT_ROW)
        assert caught.value.status == 401 and "API key" in caught.value.message
    with (
        Client(keyed_server.url, api_key="wrong-key-0123456789") as wrong,
        pytest.raises(Unauthorized),
    ):
        wrong.infer("mnist", np.zeros((1, 784), np.uint8))
    with Client(keyed_server.url, api_key=API_KEY) as keyed:
        assert keyed.predict_one("tshirt", TSHIRT_ROW).label is not None
        assert keyed.infer("mnist", np.zeros((1, 784), np.uint8)).as_numpy().shape == (1, 10)
        assert len(keyed.predict_images("mnist", digit_png())) == 1
