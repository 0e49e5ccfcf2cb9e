"""The two halves share only ``modelrepo`` (the model repository contract, written once) and
``uploads`` (how an uploaded image becomes model input, which both must apply alike); each of
those imports neither half, nor torch, nor the web stack. The service never imports torch or
the training package, training never imports the service. Neither half has an import circle.

Inside the service, the folders are layers and import only downward (``LAYERS``); the two
transports, ``api/`` (HTTP) and ``grpc/``, are equals that never import each other; at most
twelve modules sit at its top, and no two modules share a name. The client stands alone: it
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
    modules = imported("import service.app, service.server, service.workers, service.__main__")
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
    graph = import_graph("service", "training", "modelrepo")
    assert "service.handlers.dataplane" in graph and "training.pipeline" in graph  # it read them
    assert graph["service.handlers.dataplane"] >= {
        "service.serving.registry",
        "service.runtime.loaded_model",
    }
    circle = find_circle(graph)
    assert circle is None, " -> ".join(circle or [])


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_circle(graph) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None


def test_the_contract_package_imports_neither_half_nor_torch_nor_the_web_stack() -> None:
    modules = imported("import modelrepo.manifest, modelrepo.publish, modelrepo.control_state")
    for banned in ("torch", "training", "service", "fastapi", "starlette", "onnxruntime", "numpy"):
        assert not any(m == banned or m.startswith(banned + ".") for m in modules), banned
    assert imports_of("modelrepo") <= {"__future__", "modelrepo", "pydantic"} | set(
        sys.stdlib_module_names
    )


# The service's floors, top first: a module imports only modules of its own floor or below.
LAYERS = [
    {"service.__main__"},
    {"service.workers"},
    {"service.app", "service.server"},
    {"service.api", "service.grpc", "service.commands"},
    {"service.core"},
    {"service.edge"},
    {"service.handlers"},
    {"service.serving"},
    {"service.runtime"},
    {"service.repository"},
    {"service.protocol"},
    {"service.metrics"},
    {"service.settings", "service.errors", "service.logs", "service"},
]


def floor(module: str) -> int:
    """The floor of a service module: that of its longest listed prefix."""
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        for number, rooms in enumerate(LAYERS):
            if prefix in rooms:
                return number
    raise AssertionError(f"{module} is on no floor of LAYERS: give it one")


def service_graph() -> dict[str, set[str]]:
    graph = import_graph("service")
    return {
        module: {i for i in imports if not i.startswith("service.grpc.generated")}
        for module, imports in graph.items()
        if not module.startswith("service.grpc.generated")
    }


def test_the_service_layers_import_only_downward() -> None:
    upward = [
        f"{module} (floor {floor(module)}) imports {imported} (floor {floor(imported)})"
        for module, imports in service_graph().items()
        for imported in sorted(imports)
        if floor(imported) < floor(module)
    ]
    assert not upward, "\n".join(upward)


def test_the_transports_never_import_each_other() -> None:
    graph = service_graph()
    for module, imports in graph.items():
        if module.startswith("service.grpc"):
            assert not {i for i in imports if i.startswith("service.api")}, module
        if module.startswith("service.api"):
            assert not {i for i in imports if i.startswith("service.grpc")}, module


def test_the_floor_check_sees_an_import_that_runs_back_up() -> None:
    assert floor("service.serving.registry") > floor("service.handlers.dataplane")
    assert floor("service.grpc.gate") == floor("service.api.gateway") < floor("service.edge.access")


def test_the_service_keeps_few_modules_at_its_top_and_each_name_once() -> None:
    top = sorted(p.name for p in (ROOT / "service").glob("*.py"))
    assert len(top) <= 12, top
    names: dict[str, list[str]] = {}
    for path in (ROOT / "service").rglob("*.py"):
        if path.name != "__init__.py" and "generated" not in path.parts:
            names.setdefault(path.stem, []).append(str(path.relative_to(ROOT)))
    assert not {n: p for n, p in names.items() if len(p) > 1}
