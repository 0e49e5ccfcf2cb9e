"""`train ... --promote` publishes and promotes in one step, and `python -m training publish`
is `logitserve publish`: neither torch nor the onnx package is imported to publish a graph."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.builders import random_mlp
from training.cli import app
from training.promote import promote

REPO = Path(__file__).resolve().parents[2]


def test_train_with_promote_publishes_and_promotes_the_new_version(tmp_path: Path) -> None:
    models = tmp_path / "models"
    args = ["train", "tshirt", "--dry-run", "--quiet", "--device", "cpu"]
    args += ["--models-dir", str(models), "--checkpoint-dir", str(tmp_path / "ck")]
    assert CliRunner().invoke(app, args).exit_code == 0
    result = CliRunner().invoke(app, [*args, "--promote"])
    assert result.exit_code == 0, result.output
    assert "tshirt: promote version 2" in result.output
    assert "tshirt 2 (" in result.output and ") now serves" in result.output
    control = json.loads((models / "tshirt" / "control.json").read_text())
    assert control["promoted"] == 2 and control["serial"] == 1


def test_train_says_which_version_serves_when_the_gate_holds_the_new_one_back(
    tmp_path: Path,
) -> None:
    """A gate no version can pass after the first: the new version is a candidate, and
    training says that version 1 still serves rather than letting "published" suggest 2."""
    models = tmp_path / "models"
    args = ["train", "coffee", "--dry-run", "--quiet", "--device", "cpu"]
    args += ["--models-dir", str(models), "--checkpoint-dir", str(tmp_path / "ck")]
    first = CliRunner().invoke(app, args)
    assert "coffee 1 (" in first.output and ") now serves" in first.output
    (models / "coffee" / "serving.json").write_text(
        json.dumps({"version_policy": {"all": {}}, "gate": {"metric": "no_such_metric"}})
    )
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "published coffee version 2" in second.output
    assert "coffee 2 (" in second.output
    assert "is a candidate; 1 (" in second.output and "keeps serving" in second.output


def test_promote_keeps_the_rest_of_the_control_state(tmp_path: Path) -> None:
    (tmp_path / "m" / "1").mkdir(parents=True)
    (tmp_path / "m" / "control.json").write_text(
        json.dumps({"format": 1, "pinned": 1, "serial": 4, "canary": {"version": 1, "weight": 5}})
    )
    promote(tmp_path, "m", 1)
    control = json.loads((tmp_path / "m" / "control.json").read_text())
    assert control["pinned"] == 1 and control["serial"] == 5 and "canary" not in control


def test_python_dash_m_training_publish_needs_no_torch(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    for package in ("torch", "sklearn", "typer"):
        (blocked / package).mkdir(parents=True)
        (blocked / package / "__init__.py").write_text(
            f"raise ImportError('{package} must not be imported to publish')\n"
        )
    graph = tmp_path / "model.onnx"
    graph.write_bytes(random_mlp(0).SerializeToString())
    run = subprocess.run(
        [sys.executable, "-m", "training", "publish", str(graph), "--name", "digits"]
        + ["--task", "multiclass", "--labels", "0,1,2,3,4,5,6,7,8,9", "--image", "28x28"]
        + ["--models-dir", str(tmp_path / "models")],
        cwd=REPO,
        env={"PYTHONPATH": f"{blocked}:{REPO}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "published digits version 1" in run.stdout
    assert (tmp_path / "models" / "digits" / "1" / "manifest.json").is_file()
