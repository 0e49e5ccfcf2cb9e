"""The linters are part of the suite: formatting, lint rules (including the ban on pickle and
torch in the service) and types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint_passes() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied() -> None:
    result = run("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes_on_the_packages() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_service_may_not_unpickle(tmp_path: Path) -> None:
    """The ruff rule that enforces it really fires on service code."""
    probe = ROOT / "service" / "_lint_probe.py"
    probe.write_text("import pickle\n\npickle.loads(b'')\n")
    try:
        result = run("ruff", "check", "--select", "TID251,S301", str(probe))
    finally:
        probe.unlink()
    assert result.returncode != 0
    assert "TID251" in result.stdout and "S301" in result.stdout
