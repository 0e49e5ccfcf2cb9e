"""Print an image's pip requirements, derived from pyproject.toml at build time.

    python deploy/requirements.py --onnxruntime cpu|gpu [--extra train] [--build-system] PYPROJECT

pyproject.toml stays the one list of dependencies. What an image needs differently is the
ONNX Runtime build: the base dependencies pick `onnxruntime-gpu` on Linux x86_64 by
environment marker, which a CPU image would carry for nothing (hundreds of MB), while a GPU
image also needs the CUDA 13 and cuDNN 9 libraries that ONNX Runtime loads at run time. Both
come in here by swapping the ONNX Runtime requirements, keeping their version floor:

- cpu: `onnxruntime` (the CPU build, on every platform);
- gpu: `onnxruntime-gpu[cuda,cudnn]`, whose extras are ONNX Runtime's own list of the NVIDIA
  pip wheels it was built against (cudart, nvrtc, cuFFT, cuRAND; cuDNN, which brings cuBLAS).

Only the standard library: this runs in a bare base image before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ONNXRUNTIME_NAMES = {"onnxruntime", "onnxruntime-gpu"}
FLAVOURS = {"cpu": "onnxruntime", "gpu": "onnxruntime-gpu[cuda,cudnn]"}
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_SPECIFIER = re.compile(r"\s*(?:\[[^\]]*\])?\s*([^;]*)")


def canonical(name: str) -> str:
    """PEP 503 normalisation: `ONNXRuntime_GPU` and `onnxruntime-gpu` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


def split(requirement: str) -> tuple[str, str]:
    """(canonical name, version specifier without extras or marker) of a PEP 508 string."""
    match = _NAME.match(requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    rest = requirement[match.end() :]
    specifier = _SPECIFIER.match(rest)
    return canonical(match.group(1)), (specifier.group(1).strip() if specifier else "")


def requirements(pyproject: dict, onnxruntime: str, extras: list[str], build: bool) -> list[str]:
    project = pyproject["project"]
    listed = list(project["dependencies"])
    for extra in extras:
        listed += project["optional-dependencies"][extra]
    kept, floors = [], []
    for requirement in listed:
        name, specifier = split(requirement)
        if name in ONNXRUNTIME_NAMES:
            floors.append(specifier)
        else:
            kept.append(requirement)
    if not floors:
        raise ValueError("pyproject.toml lists no onnxruntime requirement to swap")
    # Both marker branches carry the same floor; if they ever differ, the stricter wins by
    # listing both specifiers (pip intersects them).
    specifier = ",".join(sorted({s for s in floors if s}))
    swapped = [f"{FLAVOURS[onnxruntime]}{specifier}"]
    if build:
        kept += pyproject["build-system"]["requires"]
    return swapped + kept


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", type=Path)
    parser.add_argument("--onnxruntime", choices=sorted(FLAVOURS), required=True)
    parser.add_argument("--extra", action="append", default=[], help="an optional-dependency")
    parser.add_argument(
        "--build-system",
        action="store_true",
        help="add the build requirements, to install the project with --no-build-isolation",
    )
    args = parser.parse_args(argv)
    with args.pyproject.open("rb") as f:
        pyproject = tomllib.load(f)
    sys.stdout.write(
        "\n".join(requirements(pyproject, args.onnxruntime, args.extra, args.build_system)) + "\n"
    )


if __name__ == "__main__":
    main()
