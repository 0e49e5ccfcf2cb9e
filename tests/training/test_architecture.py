"""The boundary of the house: training talks to the service only through the model repository."""

from __future__ import annotations

import ast
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[2] / "training"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_training_never_imports_the_service() -> None:
    offenders = {
        str(path.relative_to(TRAINING.parent)): sorted(
            m for m in imported_modules(path) if m == "service" or m.startswith("service.")
        )
        for path in TRAINING.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_training_modules_stay_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in TRAINING.rglob("*.py")}
    assert max(sizes.values()) < 320, sizes
