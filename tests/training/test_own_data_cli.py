"""`train NAME --images DIR` and `train NAME --table FILE --target COLUMN` end to end: what a
model of your own data gets (split, early stopping, calibration, report, metrics, parity,
publishing, its promotion gate), what the run says while it runs and after, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from typer.testing import CliRunner, Result

from tests.training.conftest import write_digit_folder
from training.cli import app


def train(name: str, models_dir: Path, *args: str | Path) -> Result:
    return CliRunner().invoke(
        app,
        [
            "train", name, "--device", "cpu", "--models-dir", str(models_dir),
            "--checkpoint-dir", str(models_dir.parent / "ck"), *map(str, args),
        ],
    )  # fmt: skip


def manifest(models_dir: Path, name: str, version: int) -> dict:
    return json.loads((models_dir / name / str(version) / "manifest.json").read_text())


@pytest.fixture(scope="module")
def four_digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four classes of 50 real digits each, as people save them (PNG and JPEG, either way
    round, 40-90 px)."""
    root = tmp_path_factory.mktemp("own") / "digits"
    return write_digit_folder(root, {"zero": 0, "one": 1, "four": 4, "seven": 7}, 50)


def test_a_folder_of_images_trains_a_served_model_with_everything_the_course_models_get(
    four_digits: Path, models_dir: Path
) -> None:
    result = train("digits", models_dir, "--images", four_digits, "--net", "mlp")
    assert result.exit_code == 0, result.output
    found = manifest(models_dir, "digits", 1)
    assert found["task"] == "multiclass" and found["labels"] == ["four", "one", "seven", "zero"]
    assert found["input"]["kind"] == "image" and found["input"]["shape"] == [-1, 784]
    assert found["dataset"]["split"] == "stratified 80/10/10: train / validation / test"
    sizes = [found["dataset"][f"{s}_size"] for s in ("train", "validation", "test")]
    assert sizes == [160, 20, 20]
    assert found["metrics"]["accuracy"] >= 0.8, found["metrics"]  # four digits, 160 to learn
    assert found["validation_metrics"]["accuracy"] is not None
    assert found["training"]["best_epoch"] <= found["training"]["epochs_run"]
    assert found["calibration"]["fitted_on"] == "validation"
    assert found["parity"]["max_abs_diff"] < 1e-4
    files = {entry["file"] for entry in found["report_files"]}
    assert {"README.md", "learning_curve.png", "confusion_matrix.png", "mistakes.png"} <= files
    assert "reliability.png" in files
    card = (models_dir / "digits" / "1" / "README.md").read_text()
    assert f"--images {four_digits} --net mlp" in card
    # Its promotion gate comes with its first version, so a worse retrain never takes over.
    gate = json.loads((models_dir / "digits" / "serving.json").read_text())
    assert gate == {"gate": {"metric": "accuracy", "tolerance": 0.005}}
    accuracy = found["metrics"]["accuracy"]
    assert f"digits 1 (accuracy {accuracy:.3f}) now serves" in result.stdout
    print(f"\ndigits (4 classes, mlp): test {found['metrics']}, {found['training']['epochs_run']} "
          f"epochs, kept {found['training']['best_epoch']}")  # fmt: skip


def test_the_run_says_what_it_does_around_the_progress_bar(
    four_digits: Path, models_dir: Path
) -> None:
    result = train("digits", models_dir, "--images", four_digits, "--net", "mlp", "--epochs", "2")
    assert result.exit_code == 0, result.output
    steps = [
        "digits: reading the images in",
        "digits: read 200 images; four 50, one 50, seven 50, zero 50",
        "digits: split into 160 train, 20 validation and 20 test rows",
        "digits: training on cpu (1 process), at most 2 epochs",
        "digits: exporting to ONNX",
        "digits: checking the graph: ONNX Runtime against PyTorch on 20 validation rows",
        "digits: publishing into",
    ]
    positions = [result.stderr.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), result.stderr
    assert "digits: 100%|" in result.stderr  # the epochs' bar, between the lines


def test_a_worse_retrain_is_a_candidate_and_says_which_version_keeps_serving(
    four_digits: Path, models_dir: Path
) -> None:
    good = train("digits", models_dir, "--images", four_digits, "--net", "mlp", "--quiet")
    assert good.exit_code == 0, good.output
    worse = train(
        "digits", models_dir, "--images", four_digits, "--net", "mlp", "--epochs", "1", "--quiet"
    )
    assert worse.exit_code == 0, worse.output
    first = manifest(models_dir, "digits", 1)["metrics"]["accuracy"]
    second = manifest(models_dir, "digits", 2)["metrics"]["accuracy"]
    assert second < first - 0.005
    assert (
        f"digits 2 (accuracy {second:.3f}) is a candidate; 1 ({first:.3f}) keeps serving"
        in worse.stdout
    )
    promoted = train(
        "digits", models_dir, "--images", four_digits, "--net", "mlp", "--epochs", "1",
        "--quiet", "--promote",
    )  # fmt: skip
    assert "digits: promote version 3 (training --promote)" in promoted.stdout
    assert "digits 3 (accuracy" in promoted.stdout and "now serves" in promoted.stdout


def test_the_cnn_and_a_labels_csv_train_a_multilabel_image_model(
    tmp_path: Path, models_dir: Path
) -> None:
    folder = write_digit_folder(tmp_path / "d", {"zero": 0, "one": 1, "seven": 7}, 20)
    tags = {"zero": "round", "one": "straight", "seven": "straight;corner"}
    lines = [
        f"{name}/{k}.{'jpg' if k % 2 else 'png'},{tag}"
        for name, tag in tags.items()
        for k in range(20)
    ]
    labels = tmp_path / "labels.csv"
    labels.write_text("file,labels\n" + "\n".join(lines) + "\n")
    result = train(
        "shapes", models_dir, "--images", folder, "--labels-csv", labels, "--dry-run", "--quiet"
    )
    assert result.exit_code == 0, result.output
    found = manifest(models_dir, "shapes", 1)
    assert found["task"] == "multilabel" and found["labels"] == ["corner", "round", "straight"]
    assert found["input"]["shape"] == [-1, 28, 28] and found["output"]["activation"] == "sigmoid"
    assert set(found["metrics"]) == {"micro_f1", "macro_f1", "exact_match"}
    gate = json.loads((models_dir / "shapes" / "serving.json").read_text())
    assert gate["gate"]["metric"] == "micro_f1"


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = load_iris(as_frame=True).frame
    frame["species"] = [("setosa", "versicolor", "virginica")[t] for t in frame.pop("target")]
    path = tmp_path_factory.mktemp("tables") / "iris.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_csv_trains_a_multiclass_model_whose_features_are_its_columns(
    iris_csv: Path, models_dir: Path
) -> None:
    result = train("iris", models_dir, "--table", iris_csv, "--target", "species", "--quiet")
    assert result.exit_code == 0, result.output
    found = manifest(models_dir, "iris", 1)
    assert found["task"] == "multiclass" and found["labels"] == [
        "setosa",
        "versicolor",
        "virginica",
    ]
    assert [f["name"] for f in found["input"]["features"]] == [
        "sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)",
    ]  # fmt: skip
    assert found["input"]["datatype"] == "FP32" and found["input"]["shape"] == [-1, 4]
    assert found["metrics"]["accuracy"] >= 0.7, found["metrics"]  # 15 test rows
    assert "mistakes.png" in {entry["file"] for entry in found["report_files"]}
    print(f"\niris: test {found['metrics']}, validation {found['validation_metrics']}")
    evaluated = CliRunner().invoke(app, ["evaluate", "iris", "--models-dir", str(models_dir)])
    assert evaluated.exit_code == 2
    assert "evaluate measures the course's models" in evaluated.stderr


def test_a_csv_with_positive_trains_a_binary_model(tmp_path: Path, models_dir: Path) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    frame["diagnosis"] = ["benign" if t else "malignant" for t in frame.pop("target")]
    frame.to_csv(tmp_path / "cancer.csv", index=False)
    result = train(
        "cancer", models_dir, "--table", tmp_path / "cancer.csv", "--target", "diagnosis",
        "--positive", "malignant", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    found = manifest(models_dir, "cancer", 1)
    assert found["task"] == "binary" and found["labels"] == ["benign", "malignant"]
    assert found["output"]["shape"] == [-1, 1] and found["threshold"] == 0.5
    assert found["metrics"]["roc_auc"] >= 0.95, found["metrics"]
    print(f"\ncancer: test {found['metrics']}, validation {found['validation_metrics']}")
