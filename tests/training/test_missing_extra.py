"""After `make serve` only the service is installed: the training commands then say in one
line how to get what they need, instead of a ModuleNotFoundError traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def training_without(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m training ARGS` in an interpreter where `module` cannot be imported."""
    code = (
        f"import runpy, sys; sys.modules[{module!r}] = None; sys.argv = ['training', *{args!r}]; "
        "runpy.run_module('training', run_name='__main__')"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("typer", ["--help"]),
        ("torch", ["train", "coffee", "--dry-run"]),
        ("torch", ["list"]),
    ],
)
def test_a_command_without_the_train_extra_says_how_to_install_it(
    module: str, args: list[str], tmp_path: Path
) -> None:
    run = training_without(module, *args)
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert f"{module} is not installed" in run.stderr
    assert "make train" in run.stderr and ".[train]" in run.stderr


def test_help_needs_no_torch() -> None:
    """--help lists the commands from typer alone: the commands import torch when they run."""
    run = training_without("torch", "--help")
    assert run.returncode == 0, run.stderr
    assert "train-all" in run.stdout and "publish" in run.stdout


def test_a_missing_module_outside_the_extra_is_not_disguised() -> None:
    run = training_without("json", "--help")
    assert run.returncode == 1 and "Traceback" in run.stderr  # a real bug stays visible
    assert "ModuleNotFoundError: import of json halted" in run.stderr
