"""deploy/requirements.py: the images' pip requirements come from pyproject.toml, with only
the ONNX Runtime build swapped, so there is one dependency list to keep.

No container engine needed: these run in every test run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from types import ModuleType

import pytest

from tests.containers.engine import ROOT

SCRIPT = ROOT / "deploy" / "requirements.py"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_requirements", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


requirements = load()


# The floor pyproject.toml sets for ONNX Runtime, whichever build it names.
FLOOR = next(
    requirements.split(r)[1]
    for r in PYPROJECT["project"]["dependencies"]
    if r.startswith("onnxruntime")
)


def names(lines: list[str]) -> list[str]:
    return [requirements.split(line)[0] for line in lines]


def test_cpu_images_get_plain_onnxruntime_with_the_same_floor_on_every_platform() -> None:
    lines = requirements.requirements(PYPROJECT, "cpu", [], build=False)
    assert lines[0] == f"onnxruntime{FLOOR}"
    assert "onnxruntime-gpu" not in names(lines)


def test_gpu_images_get_onnxruntime_gpu_with_its_cuda_and_cudnn_wheels() -> None:
    lines = requirements.requirements(PYPROJECT, "gpu", [], build=False)
    assert lines[0] == f"onnxruntime-gpu[cuda,cudnn]{FLOOR}"
    assert names(lines).count("onnxruntime-gpu") == 1 and "onnxruntime" not in names(lines)


def test_everything_else_is_pyprojects_own_list_markers_included() -> None:
    listed = PYPROJECT["project"]["dependencies"]
    kept = [r for r in listed if requirements.split(r)[0] not in {"onnxruntime", "onnxruntime-gpu"}]
    assert requirements.requirements(PYPROJECT, "cpu", [], build=False)[1:] == kept
    assert any("sys_platform" in line for line in kept), "uvloop keeps its marker"


def test_the_train_extra_and_build_requirements_are_added_on_request() -> None:
    lines = requirements.requirements(PYPROJECT, "cpu", ["train"], build=True)
    assert {"torch", "onnx", "typer", "setuptools"} <= set(names(lines))


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("onnxruntime-gpu>=1.20; platform_system == 'Linux'", ("onnxruntime-gpu", ">=1.20")),
        ("ONNXRuntime_GPU [cuda] >= 1.2, <2", ("onnxruntime-gpu", ">= 1.2, <2")),
        ("numpy", ("numpy", "")),
    ],
)
def test_split_names_and_specifiers_like_pip(requirement: str, expected: tuple[str, str]) -> None:
    assert requirements.split(requirement) == expected


def test_a_pyproject_without_onnxruntime_is_refused() -> None:
    bare = {"project": {"dependencies": ["numpy"]}}
    with pytest.raises(ValueError, match="no onnxruntime"):
        requirements.requirements(bare, "cpu", [], build=False)


def test_the_script_runs_on_the_standard_library_alone() -> None:
    """As in the Dockerfile: a bare interpreter (-I: no site-packages, no user paths)."""
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            str(SCRIPT),
            "--onnxruntime",
            "cpu",
            str(ROOT / "pyproject.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"onnxruntime{FLOOR}"
