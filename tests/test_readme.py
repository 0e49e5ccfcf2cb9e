"""The README's commands and examples work as written: its Python client example runs against
a real server on the shipped models, every `.venv/bin/` tool and `make` target it names
exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.servers import running_process

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)


def test_the_client_example_runs_as_written(shipped_models: Path) -> None:
    [example] = [b for b in code_blocks("python") if "from logitserve_client import" in b]
    with running_process(shipped_models, "--reload-interval-s", "0") as server:
        run = subprocess.run(
            [sys.executable, "-c", example.replace("http://127.0.0.1:8000", server.url)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("['coffee', 'mnist', 'mnist-cnn'")
    assert lines[2].startswith("3 1 ")  # the example photo of a 3, version 1
    assert lines[-1].startswith("404 ") and "mnist-v9" in lines[-1]


def test_every_venv_tool_the_readme_names_is_installed() -> None:
    tools = set(re.findall(r"\.venv/bin/([A-Za-z0-9_.-]+)", README))
    assert {"python", "torchrun", "logitserve", "logitserve-train"} <= tools
    bin_dir = Path(sys.executable).parent
    assert all((bin_dir / tool).exists() for tool in tools), sorted(tools)


def test_every_make_target_the_readme_names_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)", README))
    assert named and named <= targets, named - targets


def test_the_console_scripts_are_the_two_entry_points() -> None:
    bin_dir = Path(sys.executable).parent
    for script, marker in (("logitserve", "--models-dir"), ("logitserve-train", "train-all")):
        run = subprocess.run(
            [str(bin_dir / script), "--help"], capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0 and marker in run.stdout, (script, run.stderr)
