"""A model of your own data is served at once, listed with its test metric, read by name: the
table's columns are the features a v1 request names, and an uploaded image gets exactly what
training read from the same file; a worse retrain waits as a candidate, as the run said."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
from sklearn.datasets import load_iris
from typer.testing import CliRunner, Result

import uploads
from tests.servers import running, wait_until
from tests.training.conftest import write_digit_folder
from training.cli import app
from training.export import onnx_logits


def train(name: str, models: Path, *args: str | Path) -> Result:
    result = CliRunner().invoke(
        app,
        [
            "train", name, "--device", "cpu", "--quiet", "--models-dir", str(models),
            "--checkpoint-dir", str(models.parent / "ck"), *map(str, args),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result


def test_a_table_model_is_listed_with_its_metric_and_answers_requests_naming_its_columns(
    tmp_path: Path,
) -> None:
    frame = load_iris(as_frame=True).frame
    frame["species"] = [("setosa", "versicolor", "virginica")[t] for t in frame.pop("target")]
    frame.to_csv(tmp_path / "iris.csv", index=False)
    models = tmp_path / "models"
    train("iris", models, "--table", tmp_path / "iris.csv", "--target", "species")
    manifest = json.loads((models / "iris" / "1" / "manifest.json").read_text())
    flower = {
        "sepal length (cm)": 6.7, "sepal width (cm)": 3.0,
        "petal length (cm)": 5.2, "petal width (cm)": 2.3,
    }  # fmt: skip
    with running(models, reload_interval_s=0) as srv, httpx.Client(base_url=srv.url) as client:
        listed = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        assert listed["iris"]["primary_metric"] == {
            "name": "accuracy",
            "value": manifest["metrics"]["accuracy"],
            "split": "test",
        }
        r = client.post("/v1/models/iris/predict", json={"instances": [flower]})
        assert r.status_code == 200, r.text
        assert r.json()["predictions"][0]["label"] == "virginica"
        wrong = client.post("/v1/models/iris/predict", json={"instances": [{"petal": 1.0}]})
        assert wrong.status_code == 400 and "sepal length (cm)" in wrong.text


def test_an_image_model_reads_an_upload_as_training_read_the_file_and_gates_a_retrain(
    tmp_path: Path,
) -> None:
    folder = write_digit_folder(tmp_path / "digits", {"zero": 0, "one": 1, "seven": 7}, 40)
    models = tmp_path / "models"
    train("digits", models, "--images", folder, "--net", "mlp")
    graph = models / "digits" / "1" / "model.onnx"
    files = [folder / "seven" / "3.jpg", folder / "zero" / "4.png"]
    x = np.stack(
        [uploads.to_model_input(uploads.decode(f.read_bytes(), 10**8), 28, 28) for f in files]
    )
    logits = onnx_logits(graph, x.reshape(len(x), -1))
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    with running(models, reload_interval_s=0.2) as srv, httpx.Client(base_url=srv.url) as client:
        r = client.post(
            "/v1/models/digits/predict/image",
            files=[("files", (f.name, f.read_bytes())) for f in files],
        )
        assert r.status_code == 200, r.text
        served = np.array([list(p["probabilities"].values()) for p in r.json()["predictions"]])
        np.testing.assert_allclose(served, expected, atol=1e-5)

        worse = train("digits", models, "--images", folder, "--net", "mlp", "--epochs", "1")
        assert "digits 2" in worse.stdout and "is a candidate; 1 (" in worse.stdout

        def roles() -> dict[int, str]:
            detail = client.get("/v1/models/digits").json()
            return {v["version"]: v["role"] for v in detail["versions"]}

        wait_until(lambda: 2 in roles())
        assert roles()[2] == "candidate"
        assert client.get("/v1/models/digits").json()["serving_version"] == 1
