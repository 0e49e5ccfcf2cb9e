"""The contract between the halves: what training publishes, the service loads and serves,
the shipped models score through HTTP exactly what their manifests say on the test split, and
an upload of a robustness-suite image gets exactly what the suite measured."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.servers import RunningServer, running, wait_until
from training import robustness
from training.export import onnx_logits
from training.tasks import get_task, load_task_data

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models"
MODELS = ["mnist", "mnist-cnn", "multilabel", "tshirt", "coffee"]


def train_dry_run(name: str, models_dir: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "training",
            "train",
            name,
            "--dry-run",
            "--quiet",
            "--models-dir",
            str(models_dir),
            "--checkpoint-dir",
            str(models_dir.parent / "ckpt"),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )


def test_a_version_training_publishes_is_served_and_described_by_its_manifest(
    tmp_path: Path,
) -> None:
    models = tmp_path / "models"
    train_dry_run("tshirt", models)
    manifest = json.loads((models / "tshirt" / "1" / "manifest.json").read_text())
    with running(models, reload_interval_s=0) as srv, httpx.Client(base_url=srv.url) as client:
        detail = client.get("/v1/models/tshirt").json()
        assert detail["ready"], detail
        assert detail["labels"] == manifest["labels"]
        assert [f["name"] for f in detail["input"]["features"]] == [
            f["name"] for f in manifest["input"]["features"]
        ]
        meta = client.get("/v2/models/tshirt").json()
        assert meta["inputs"][0] == {k: manifest["input"][k] for k in ("name", "datatype", "shape")}
        r = client.post("/v1/models/tshirt/predict", json={"instances": [[20, 5, 10, 7]]})
        assert r.status_code == 200 and r.json()["predictions"][0]["label"] in manifest["labels"]


def test_a_freshly_trained_version_is_hot_reloaded(tmp_path: Path) -> None:
    models = tmp_path / "models"
    train_dry_run("coffee", models)
    body = {"instances": [[200.0, 13.5]]}
    with running(models, reload_interval_s=0.2) as srv, httpx.Client(base_url=srv.url) as client:
        assert client.post("/v1/models/coffee/predict", json=body).json()["version"] == 1
        train_dry_run("coffee", models)
        wait_until(
            lambda: client.post("/v1/models/coffee/predict", json=body).json()["version"] == 2
        )


@pytest.fixture(scope="module")
def shipped(shipped_models: Path) -> Iterator[RunningServer]:
    with running(shipped_models, reload_interval_s=0) as srv:
        yield srv


def test_every_shipped_model_is_ready(shipped: RunningServer) -> None:
    with httpx.Client(base_url=shipped.url) as client:
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        assert set(models) == set(MODELS)
        assert all(m["ready"] for m in models.values()), models
        assert client.get("/v2/health/ready").status_code == 200


def _infer(client: httpx.Client, name: str, x: np.ndarray) -> np.ndarray:
    """Probabilities for x through v2's binary tensor extension, in batches."""
    meta = client.get(f"/v2/models/{name}").json()["inputs"][0]
    datatype, out = meta["datatype"], []
    for start in range(0, len(x), 500):
        batch = np.ascontiguousarray(x[start : start + 500])
        payload = batch.astype(np.uint8 if datatype == "UINT8" else "<f4").tobytes()
        header = json.dumps(
            {
                "inputs": [
                    {
                        "name": meta["name"],
                        "shape": list(batch.shape),
                        "datatype": datatype,
                        "parameters": {"binary_data_size": len(payload)},
                    }
                ],
                "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
            }
        ).encode()
        r = client.post(
            f"/v2/models/{name}/infer",
            content=header + payload,
            headers={"Inference-Header-Content-Length": str(len(header))},
        )
        assert r.status_code == 200, r.text
        n = int(r.headers["inference-header-content-length"])
        out.append(np.frombuffer(r.content[n:], dtype="<f4").reshape(len(batch), -1))
    return np.concatenate(out)


@pytest.mark.parametrize("name", MODELS)
def test_shipped_models_score_their_manifest_metrics_through_http(
    shipped: RunningServer, name: str
) -> None:
    manifest = json.loads((SHIPPED / name / "1" / "manifest.json").read_text())
    test = load_task_data(get_task(name), None).test
    with httpx.Client(base_url=shipped.url, timeout=60) as client:
        probs = _infer(client, name, test.x)
    threshold = manifest["threshold"]
    if manifest["task"] == "multiclass":
        measured = {"accuracy": float((probs.argmax(axis=1) == test.y).mean())}
    elif manifest["task"] == "binary":
        measured = {"accuracy": float(((probs[:, 0] >= threshold) == test.y).mean())}
    else:
        predicted = probs >= threshold
        measured = {"exact_match": float((predicted == test.y.astype(bool)).all(axis=1).mean())}
    for metric, value in measured.items():
        assert abs(value - manifest["metrics"][metric]) <= 0.002, (
            metric,
            value,
            manifest["metrics"],
        )


@pytest.mark.parametrize("name", ["mnist", "mnist-cnn"])
def test_an_uploaded_suite_image_gets_exactly_what_the_robustness_suite_measured(
    shipped: RunningServer, name: str
) -> None:
    digits = load_task_data(get_task("mnist-cnn"), None).test.x[:8]
    files, expected = [], []
    for index, (condition, render) in enumerate(robustness.CONDITIONS.items()):
        for i, digit in enumerate(digits):
            data = render(digit, np.random.default_rng([robustness.SUITE_SEED, index, i]))
            files.append(("files", (f"{condition}-{i}.png", data)))
            expected.append(robustness.as_uploaded(data))
    x = np.stack(expected).reshape(len(expected), *get_task(name).input.shape[1:])
    logits = onnx_logits(SHIPPED / name / "1" / "model.onnx", x)
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    with httpx.Client(base_url=shipped.url, timeout=60) as client:
        r = client.post(f"/v1/models/{name}/predict/image", files=files)
    assert r.status_code == 200, r.text
    served = np.array([list(p["probabilities"].values()) for p in r.json()["predictions"]])
    np.testing.assert_allclose(served, softmax, atol=1e-5)


def test_the_readme_examples_predict_what_they_show(shipped: RunningServer) -> None:
    examples = ROOT / "docs" / "examples"
    with httpx.Client(base_url=shipped.url) as client:
        body = json.loads((examples / "mnist-7.json").read_text())
        for model in ("mnist", "mnist-cnn"):
            r = client.post(f"/v1/models/{model}/predict", json=body)
            assert r.json()["predictions"][0]["label"] == "7", (model, r.text)
        tshirt = json.loads((examples / "tshirt.json").read_text())
        r = client.post("/v1/models/tshirt/predict?threshold=0.4", json=tshirt)
        assert r.status_code == 200 and len(r.json()["predictions"]) == 2, r.text
        coffee = json.loads((examples / "coffee.json").read_text())
        labels = [
            p["label"]
            for p in client.post("/v1/models/coffee/predict", json=coffee).json()["predictions"]
        ]
        assert labels == ["good roast", "bad roast"]  # 200 °C for 13.9 min; 280 °C burns it
        photo = (examples / "digit-3.jpg").read_bytes()
        r = client.post(
            "/v1/models/mnist-cnn/predict/image", files={"files": ("digit-3.jpg", photo)}
        )
        assert r.json()["predictions"][0]["label"] == "3", r.text


def test_shipped_models_are_small() -> None:
    for name in MODELS:
        size = (SHIPPED / name / "1" / "model.onnx").stat().st_size
        assert size < 2_000_000, (name, size)
