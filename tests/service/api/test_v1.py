"""v1, for people and scripts: listings, JSON predictions (pixels or feature rows), top-k,
thresholds and image uploads, over real HTTP."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.servers import assert_still_serving

DIGIT = (np.arange(784) % 256).tolist()


def predict(
    client: httpx.Client, model: str, instances: list[object], query: str = ""
) -> httpx.Response:
    return client.post(f"/v1/models/{model}/predict{query}", json={"instances": instances})


def test_list_models_says_which_are_ready(client: httpx.Client) -> None:
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert set(models) == {"course", "mnist", "mnist-cnn", "multilabel", "tshirt"}
    assert models["mnist"]["ready"] and models["mnist"]["serving_version"] == 1


def test_model_detail_describes_task_labels_input_provider_and_metrics(
    client: httpx.Client,
) -> None:
    detail = client.get("/v1/models/tshirt").json()
    assert detail["task"] == "binary"
    assert detail["labels"] == ["not top seller", "top seller"]
    assert detail["default_threshold"] == 0.5
    assert [f["name"] for f in detail["input"]["features"]] == [
        "price",
        "shipping_cost",
        "marketing",
        "quality",
    ]
    version = detail["versions"][0]
    assert version["state"] == "ready" and version["provider"] == "CPUExecutionProvider"
    assert client.get("/v1/models/tshirt/versions/1").json()["versions"] == [version]
    assert client.get("/v1/models/tshirt/versions/2").status_code == 404


def test_predict_flat_and_nested_pixels_agree(client: httpx.Client) -> None:
    nested = np.array(DIGIT).reshape(28, 28).tolist()
    a = predict(client, "mnist", [DIGIT, nested]).json()["predictions"]
    assert a[0]["probabilities"] == a[1]["probabilities"]
    assert a[0]["label"] == max(a[0]["probabilities"], key=a[0]["probabilities"].get)
    assert abs(sum(a[0]["probabilities"].values()) - 1) < 1e-5


def test_cnn_takes_flat_pixels_too(client: httpx.Client) -> None:
    r = predict(client, "mnist-cnn", [DIGIT])
    assert r.status_code == 200 and r.json()["predictions"][0]["label"] in [
        str(d) for d in range(10)
    ]


def test_float_pixels_are_rounded(client: httpx.Client) -> None:
    ints = predict(client, "mnist", [DIGIT]).json()["predictions"][0]
    floats = predict(client, "mnist", [[max(v - 0.2, 0) for v in DIGIT]]).json()["predictions"][0]
    assert ints["probabilities"] == floats["probabilities"]


def test_top_k_is_sorted_and_clamped_to_the_classes(client: httpx.Client) -> None:
    top = predict(client, "mnist", [DIGIT], "?top_k=50").json()["predictions"][0]["top_k"]
    assert len(top) == 10
    probs = [t["probability"] for t in top]
    assert probs == sorted(probs, reverse=True)
    assert len(predict(client, "mnist", [DIGIT], "?top_k=2").json()["predictions"][0]["top_k"]) == 2


def test_tabular_rows_as_lists_or_objects(client: httpx.Client) -> None:
    rows = [[20, 5, 3, 7], {"quality": 7, "marketing": 3, "shipping_cost": 5, "price": 20}]
    a, b = predict(client, "tshirt", rows).json()["predictions"]
    assert a["probabilities"] == b["probabilities"]
    assert a["label"] in ("top seller", "not top seller")


def test_binary_threshold_decides_the_label(client: httpx.Client) -> None:
    p = predict(client, "tshirt", [[20, 5, 3, 7]]).json()["predictions"][0]["probabilities"][
        "top seller"
    ]
    low = predict(client, "tshirt", [[20, 5, 3, 7]], f"?threshold={p / 2:.6f}").json()
    high = predict(client, "tshirt", [[20, 5, 3, 7]], f"?threshold={(1 + p) / 2:.6f}").json()
    assert low["predictions"][0]["label"] == "top seller"
    assert high["predictions"][0]["label"] == "not top seller"


def test_multilabel_lists_every_label_over_the_threshold(client: httpx.Client) -> None:
    r = predict(client, "course", [[200, 17]]).json()["predictions"][0]
    assert r["labels"] == ["a", "c"] and r["threshold"] == 0.5
    assert r["probabilities"] == {"a": 1.0, "b": 0.0, "c": 1.0}


def test_versioned_predict(client: httpx.Client) -> None:
    r = client.post("/v1/models/mnist/versions/1/predict", json={"instances": [DIGIT]})
    assert r.status_code == 200 and r.json()["version"] == 1


@pytest.mark.parametrize(
    ("model", "body", "query", "status", "words"),
    [
        ("mnist", {"instances": [[1] * 783]}, "", 400, "784 pixel values"),
        ("mnist", {"instances": [[1] * 785]}, "", 400, "784 pixel values"),
        ("mnist", {"instances": [[-1] * 784]}, "", 400, "0-255"),
        ("mnist", {"instances": [[256] * 784]}, "", 400, "0-255"),
        ("mnist", {"instances": []}, "", 400, "at least one instance"),
        ("mnist", {"rows": []}, "", 400, "instances"),
        ("mnist", {"instances": [DIGIT], "extra": 1}, "", 400, "unknown field"),
        ("tshirt", {"instances": [[1, 2, 3]]}, "", 400, "4 numbers"),
        ("tshirt", {"instances": [{"price": 1}]}, "", 400, "missing"),
        ("tshirt", {"instances": [[1, 2, 3, "4"]]}, "", 400, "strings are not numbers"),
        ("tshirt", {"instances": [[1, 2, 3, True]]}, "", 400, "true/false"),
        ("tshirt", {"instances": [[1, 2, 3, None]]}, "", 400, "null"),
        ("mnist", {"instances": [DIGIT]}, "?top_k=0", 400, "top_k"),
        ("mnist", {"instances": [DIGIT]}, "?threshold=0.3", 400, "binary and multi-label"),
        (
            "tshirt",
            {"instances": [[1, 2, 3, 4]]},
            "?threshold=1.5",
            400,
            "strictly between 0 and 1",
        ),
        (
            "tshirt",
            {"instances": [[1, 2, 3, 4]]},
            "?threshold=nan",
            400,
            "strictly between 0 and 1",
        ),
        # Arabic-Indic digits: float() reads them as 0.5, top_k refused them; ASCII for both.
        ("tshirt", {"instances": [[1, 2, 3, 4]]}, "?threshold=٠.٥", 400, "between 0 and 1"),
        ("tshirt", {"instances": [[1, 2, 3, 4]]}, "?threshold=0.5_0", 400, "between 0 and 1"),
        ("tshirt", {"instances": [[1, 2, 3, 4]]}, "?threshold=%200.5", 400, "between 0 and 1"),
        ("mnist", {"instances": [DIGIT]}, "?top_k=٣", 400, "top_k"),
        ("mnist", {"instances": [DIGIT]}, "?topk=3", 400, "unknown query parameter"),
    ],
)
def test_bad_predictions_get_400_naming_the_problem(
    client: httpx.Client, model: str, body: object, query: str, status: int, words: str
) -> None:
    r = client.post(f"/v1/models/{model}/predict{query}", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert_still_serving(client)


def test_too_many_instances_is_413(client: httpx.Client, server: object) -> None:
    limit = server.services.settings.max_instances  # type: ignore[attr-defined]
    r = client.post("/v1/models/tshirt/predict", json={"instances": [[1, 2, 3, 4]] * (limit + 1)})
    assert r.status_code == 413 and "limit" in r.json()["error"]


def _png(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def _digit_like() -> np.ndarray:
    """A dark '1'-like stroke on white paper, photo-sized."""
    img = np.full((120, 90), 235, dtype=np.uint8)
    img[20:100, 40:52] = 20
    return img


def test_image_upload_matches_the_json_prediction_of_its_preprocessed_pixels(
    client: httpx.Client,
) -> None:
    from service.api.images import decode, to_model_input

    png = _png(_digit_like())
    r = client.post(
        "/v1/models/mnist/predict/image?top_k=3", files=[("files", ("one.png", png, "image/png"))]
    )
    assert r.status_code == 200, r.text
    via_image = r.json()["predictions"][0]
    pixels = to_model_input(decode(png, 10**7), 28, 28)
    via_json = predict(client, "mnist", [pixels.ravel().tolist()], "?top_k=3").json()[
        "predictions"
    ][0]
    assert via_image["probabilities"] == via_json["probabilities"]
    assert via_image["file"] == "one.png"


def test_several_png_and_jpeg_files_in_one_upload(client: httpx.Client) -> None:
    files = [
        ("files", ("a.png", _png(_digit_like()), "image/png")),
        ("files", ("b.jpg", _png(_digit_like(), "JPEG"), "image/jpeg")),
    ]
    r = client.post("/v1/models/mnist-cnn/predict/image", files=files)
    assert r.status_code == 200, r.text
    assert [p["file"] for p in r.json()["predictions"]] == ["a.png", "b.jpg"]


def test_multilabel_model_gets_its_own_canvas(client: httpx.Client) -> None:
    wide = np.full((60, 180), 240, dtype=np.uint8)
    wide[10:50, 20:30] = 10
    wide[10:50, 140:150] = 10
    r = client.post(
        "/v1/models/multilabel/predict/image", files=[("files", ("w.png", _png(wide), "image/png"))]
    )
    assert r.status_code == 200 and "labels" in r.json()["predictions"][0]


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ([("files", ("x.png", b"", "image/png"))], 400, "empty image"),
        ([("files", ("x.png", b"GIF89a......", "image/png"))], 415, "only PNG and JPEG"),
        ([("files", ("x.png", _png(_digit_like())[:60], "image/png"))], 400, "undecodable"),
    ],
)
def test_bad_uploads_get_4xx_naming_the_problem(
    client: httpx.Client, files: list[object], status: int, words: str
) -> None:
    r = client.post("/v1/models/mnist/predict/image", files=files)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert_still_serving(client)


def test_multipart_without_a_file_is_400(client: httpx.Client) -> None:
    r = client.post(
        "/v1/models/mnist/predict/image",
        content=b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b--\r\n',
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 400 and "without a file" in r.json()["error"]


def test_upload_that_is_neither_multipart_nor_an_image_is_415(client: httpx.Client) -> None:
    r = client.post(
        "/v1/models/mnist/predict/image", content=b"\x89PNG", headers={"content-type": "text/plain"}
    )
    assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]


def test_a_raw_body_that_is_no_image_is_400(client: httpx.Client) -> None:
    truncated = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    r = client.post(
        "/v1/models/mnist/predict/image", content=truncated, headers={"content-type": "image/png"}
    )
    assert r.status_code == 400 and r.json()["error"] == "'body': undecodable PNG image"


def test_image_upload_to_a_tabular_model_is_refused(client: httpx.Client) -> None:
    r = client.post(
        "/v1/models/tshirt/predict/image",
        files=[("files", ("a.png", _png(_digit_like()), "image/png"))],
    )
    assert r.status_code == 400 and "tabular" in r.json()["error"]
