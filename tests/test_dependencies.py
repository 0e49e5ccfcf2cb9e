"""Dependency floors that carry known security fixes are declared, and what is installed
meets them (an offline complement to `make audit`, which needs a vulnerability database)."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent

FLOORS = {
    "python-multipart": "0.0.32",
    "starlette": "1.3.1",
    "h11": "0.16",
    "pillow": "12.3",
    "onnx": "1.21",
    "protobuf": "6.33.5",
    "torch": "2.10",
}


def declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"].values()
    lines = project["dependencies"] + [line for extra in extras for line in extra]
    return {Requirement(line).name.lower(): Requirement(line) for line in lines}


def test_security_floors_are_pinned_in_pyproject() -> None:
    requirements = declared()
    for name, floor in FLOORS.items():
        assert name in requirements, name
        specifier = requirements[name].specifier
        lower_bounds = [Version(s.version) for s in specifier if s.operator == ">="]
        assert lower_bounds and max(lower_bounds) >= Version(floor), (name, str(specifier))


def test_installed_versions_meet_the_floors() -> None:
    for name, floor in FLOORS.items():
        assert Version(version(name)) >= Version(floor), (name, version(name), floor)
