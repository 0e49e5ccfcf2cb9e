"""The two halves share only the model repository format: the service never imports torch or
the training package, and training never imports the service. The client stands alone: it
talks HTTP to a server and imports neither half, nor what the server runs on."""

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


def imports_of(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_the_client_imports_neither_half_nor_the_servers_libraries() -> None:
    assert not imports_of("logitserve_client") & {"service", "training", "tests"}
    modules = {m.split(".")[0] for m in imported("import logitserve_client")}
    server_side = {
        "service",
        "training",
        "fastapi",
        "starlette",
        "onnxruntime",
        "torch",
        "onnx",
        "pydantic",
        "uvicorn",
    }
    assert not modules & server_side, modules & server_side
    assert {"httpx", "numpy"} <= modules


def test_no_pickle_in_the_service() -> None:
    banned = ("pickle", "torch.load", "allow_pickle=True", "yaml.load(", "marshal")
    for path in (ROOT / "service").rglob("*.py"):
        text = path.read_text()
        for word in banned:
            assert word not in text, f"{path}: {word}"
