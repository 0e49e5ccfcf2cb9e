"""``python -m training`` end to end in a tmp folder: train, train-all, list, evaluate, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner, Result

from training.cli import app

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def dry_run(model: str, models_dir: Path, *extra: str | Path) -> Result:
    return cli(
        "train", model, "--dry-run", "--quiet", "--device", "cpu",
        "--models-dir", models_dir, "--checkpoint-dir", models_dir.parent / "ck", *extra,
    )  # fmt: skip


def test_python_dash_m_training_help_lists_the_commands() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "training", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 0
    for command in ("train", "train-all", "evaluate", "list", "publish"):
        assert command in run.stdout


def test_help_imports_neither_torch_nor_the_pipeline() -> None:
    """What made --help take 4.5 s: torch, scikit-learn and the tasks imported to print it."""
    code = (
        "import sys; from typer.testing import CliRunner; from training.cli import app; "
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0; "
        "print(sorted(m for m in ('torch', 'sklearn', 'training.tasks', 'training.pipeline') "
        "if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_help_uses_the_terminals_width() -> None:
    wide = subprocess.run(
        [sys.executable, "-m", "training", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert max(len(line) for line in wide.stdout.splitlines()) > 120
    # The description fits on one line of a wide terminal instead of wrapping at 80.
    sentence = "Train the course's networks, export them to ONNX and publish them for the service."
    assert any(sentence in line for line in wide.stdout.splitlines())


def test_python_dash_m_training_publish_is_logitserve_publish() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "training", "publish", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "usage: logitserve publish" in run.stdout


def test_python_dash_m_training_unknown_model_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "training", "train", "resnet", "--models-dir", tmp_path],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "error: unknown model 'resnet'; known models: mnist, mnist-cnn" in run.stderr
    assert "add --images DIR or --table FILE --target COLUMN" in run.stderr
    assert "Traceback" not in run.stderr


def test_train_dry_run_publishes_version_1_then_2(models_dir: Path) -> None:
    first = dry_run("mnist", models_dir)
    assert first.exit_code == 0, first.output
    assert "published mnist version 1" in first.stdout
    second = dry_run("mnist", models_dir)
    assert "published mnist version 2" in second.stdout
    manifest = json.loads((models_dir / "mnist" / "2" / "manifest.json").read_text())
    assert manifest["dry_run"] is True and manifest["version"] == 2
    assert (models_dir / "mnist" / "2" / "learning_curve.png").stat().st_size > 1000


def test_list_shows_every_model_with_its_published_versions(models_dir: Path) -> None:
    assert dry_run("coffee", models_dir).exit_code == 0
    result = cli("list", "--models-dir", models_dir)
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert set(lines) == {"mnist", "mnist-cnn", "multilabel", "tshirt", "coffee"}
    assert "versions: 1 " in lines["coffee"] and "versions: none" in lines["mnist"]


def test_evaluate_prints_held_out_metrics_of_the_latest_version(models_dir: Path) -> None:
    assert dry_run("tshirt", models_dir).exit_code == 0
    assert dry_run("tshirt", models_dir).exit_code == 0
    result = cli("evaluate", "tshirt", "--models-dir", models_dir)
    assert result.exit_code == 0, result.output
    assert "tshirt version 2 on the 600-row test split of tshirt-synthetic" in result.stdout
    for metric in ("accuracy", "precision", "recall", "roc_auc"):
        assert metric in result.stdout
    assert "calibration: ECE" in result.stdout and "robustness" not in result.stdout
    assert (
        "version 1"
        in cli("evaluate", "tshirt", "--models-dir", models_dir, "--version", "1").stdout
    )


def test_evaluate_a_digit_model_runs_the_robustness_suite_and_matches_its_manifest(
    models_dir: Path,
) -> None:
    assert dry_run("mnist", models_dir).exit_code == 0
    result = cli("evaluate", "mnist", "--models-dir", models_dir)
    assert result.exit_code == 0, result.output
    manifest = json.loads((models_dir / "mnist" / "1" / "manifest.json").read_text())
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    for condition, recorded in manifest["robustness"]["accuracy"].items():
        # The dry run measured 64 test digits; evaluate measures all 500: the same suite's
        # first rows render alike, but the figures differ, so only the shape is checked.
        assert condition in lines and f"(manifest: {recorded:.4f})" in lines[condition]
    assert "robustness suite" in result.stdout


def test_evaluate_on_idx_files_uses_their_t10k_test_split_and_says_it_differs(
    models_dir: Path, mnist_idx_dir: Path
) -> None:
    assert dry_run("mnist-cnn", models_dir).exit_code == 0
    result = cli("evaluate", "mnist-cnn", "--models-dir", models_dir, "--data-dir", mnist_idx_dir)
    assert result.exit_code == 0, result.output
    assert "on the 20-row test split of mnist-idx" in result.stdout
    assert "not comparable with its manifest" in result.stderr


def test_evaluate_unknown_version_fails_listing_the_published_ones(models_dir: Path) -> None:
    assert dry_run("coffee", models_dir).exit_code == 0
    result = cli("evaluate", "coffee", "--models-dir", models_dir, "--version", "7")
    assert result.exit_code == 1
    assert "'coffee' has no version 7" in result.stderr and "published: 1" in result.stderr


def test_evaluate_refuses_a_model_file_that_does_not_match_its_sha256(models_dir: Path) -> None:
    assert dry_run("coffee", models_dir).exit_code == 0
    with (models_dir / "coffee" / "1" / "model.onnx").open("ab") as f:
        f.write(b"tampered")
    result = cli("evaluate", "coffee", "--models-dir", models_dir)
    assert result.exit_code == 1 and "does not match the sha256" in result.stderr


def test_evaluate_with_nothing_published_fails_clearly(models_dir: Path) -> None:
    result = cli("evaluate", "mnist", "--models-dir", models_dir)
    assert result.exit_code == 1 and "no published version of 'mnist'" in result.stderr


def test_train_reads_mnist_idx_files_from_data_dir(models_dir: Path, mnist_idx_dir: Path) -> None:
    result = dry_run("mnist", models_dir, "--data-dir", mnist_idx_dir)
    assert result.exit_code == 0, result.output
    manifest = json.loads((models_dir / "mnist" / "1" / "manifest.json").read_text())
    assert manifest["dataset"]["name"] == "mnist-idx"


def test_train_with_missing_data_dir_fails_naming_it(models_dir: Path, tmp_path: Path) -> None:
    result = dry_run("mnist", models_dir, "--data-dir", tmp_path / "nowhere")
    assert result.exit_code == 2
    assert "error: data folder" in result.stderr and "nowhere does not exist" in result.stderr
    assert not models_dir.exists() or not any(models_dir.rglob("model.onnx"))


def test_train_with_malformed_idx_file_fails_naming_the_file(
    models_dir: Path, mnist_idx_dir: Path
) -> None:
    labels = mnist_idx_dir / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-5])
    result = dry_run("mnist-cnn", models_dir, "--data-dir", mnist_idx_dir)
    assert result.exit_code == 2
    assert "train-labels-idx1-ubyte: truncated" in result.stderr


def test_train_into_unwritable_models_folder_fails_before_training(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = dry_run("coffee", blocker / "models")
    assert result.exit_code == 1 and "is not writable" in result.stderr


def test_data_dir_is_refused_for_models_on_generated_data(
    models_dir: Path, mnist_idx_dir: Path
) -> None:
    result = dry_run("coffee", models_dir, "--data-dir", mnist_idx_dir)
    assert result.exit_code == 2 and "trains on generated data" in result.stderr


@pytest.mark.parametrize("option", [["--epochs", "0"], ["--device", "tpu"]])
def test_invalid_options_are_usage_errors(models_dir: Path, option: list[str]) -> None:
    result = dry_run("coffee", models_dir, *option)
    assert result.exit_code == 2


def test_train_all_dry_run_publishes_every_model_once(models_dir: Path) -> None:
    result = cli(
        "train-all", "--dry-run", "--quiet", "--device", "cpu",
        "--models-dir", models_dir, "--checkpoint-dir", models_dir.parent / "ck",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.parent.name for p in models_dir.glob("*/1")) == sorted(
        ["mnist", "mnist-cnn", "multilabel", "tshirt", "coffee"]
    )
    assert not list(models_dir.glob("*/2"))


def test_device_cuda_fails_clearly_where_there_is_no_gpu(models_dir: Path) -> None:
    result = dry_run("coffee", models_dir, "--device", "cuda")
    if torch.cuda.is_available():
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1
        assert "--device cuda was asked for, but no CUDA device is available" in result.stderr
