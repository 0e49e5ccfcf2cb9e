"""The two halves share only the model repository format, and ``uploads``: the service never
imports torch or the training package, training never imports the service, and ``uploads``
(how an uploaded image becomes model input, which both must apply alike) imports neither half,
nor torch, nor the web stack: numpy and Pillow only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return set(out.split())


def test_the_service_imports_no_torch_and_no_training() -> None:
    modules = imported("import service.app, service.__main__")
    assert "torch" not in modules
    assert not any(m == "training" or m.startswith("training.") for m in modules)
    assert "onnx" not in modules  # the serving image carries onnxruntime only


def test_training_imports_nothing_from_the_service() -> None:
    for path in (ROOT / "training").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n == "service" or n.startswith("service.") for n in names), path


def test_uploads_imports_neither_half_nor_torch_nor_the_web_stack() -> None:
    modules = imported("import uploads")
    for banned in ("torch", "training", "service", "fastapi", "starlette", "onnxruntime"):
        assert not any(m == banned or m.startswith(banned + ".") for m in modules), banned
    assert "PIL" in modules and "numpy" in modules


def test_uploads_source_names_neither_half() -> None:
    for path in (ROOT / "uploads").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] in ("service", "training") for n in names), path


def test_no_pickle_in_the_service() -> None:
    banned = ("pickle", "torch.load", "allow_pickle=True", "yaml.load(", "marshal")
    for path in (ROOT / "service").rglob("*.py"):
        text = path.read_text()
        for word in banned:
            assert word not in text, f"{path}: {word}"
