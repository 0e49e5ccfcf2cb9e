"""The two halves share only the model repository format, and ``uploads``: the service never
imports torch or the training package, training never imports the service, and ``uploads``
(how an uploaded image becomes model input, which both must apply alike) imports neither half,
nor torch, nor the web stack: numpy and Pillow only. Neither half has an import circle among
its own modules. The client stands alone: it talks HTTP to a server and imports neither half,
nor what the server runs on."""

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


def import_graph(*packages: str) -> dict[str, set[str]]:
    """Module -> the modules of `packages` it imports, wherever the import statement is (in a
    function, or only for type checking: a circle there is a circle in the design too)."""
    files = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in files}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    if submodule in files:
                        graph[name].add(submodule)
                    elif node.module in files:
                        graph[name].add(node.module)
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the path that closes it, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            circle = visit(imported, [*path, module])
            if circle:
                return circle
        done.add(module)
        return None

    for module in sorted(graph):
        circle = visit(module, [])
        if circle:
            return circle
    return None


def test_the_service_and_training_have_no_import_circle() -> None:
    graph = import_graph("service", "training")
    assert "service.dataplane" in graph and "training.publish" in graph  # it read them
    assert graph["service.dataplane"] >= {"service.registry", "service.model"}
    circle = find_circle(graph)
    assert circle is None, " -> ".join(circle or [])


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_circle(graph) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None
