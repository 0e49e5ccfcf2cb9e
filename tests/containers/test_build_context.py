"""The build context, read without an engine: `.dockerignore` is an allowlist, so every file
the Dockerfile copies from the context must be let through by it — a folder added to the
images but not to the allowlist fails the build (as `uploads/` once did, in CI only)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ignore_patterns() -> list[tuple[bool, str]]:
    """(negated, pattern) in file order, as Docker reads them: the last match decides."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, line.lstrip("!").strip("/")))
    return rules


def in_context(path: str, rules: list[tuple[bool, str]]) -> bool:
    """Whether `path` (relative, with /) reaches the build: a pattern that matches the path or
    one of its parent folders applies to it."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negated, pattern in rules:
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            included = negated
    return included


def copied_sources() -> list[str]:
    """Every context path a COPY instruction names (copies from other stages left out)."""
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        match = re.match(r"^COPY\s+(.*)$", line.strip())
        if not match or "--from=" in match.group(1):
            continue
        words = [w for w in match.group(1).split() if not w.startswith("--")]
        sources.extend(w.strip("/") for w in words[:-1])
    return sources


def a_file_under(source: str) -> str:
    path = ROOT / source
    if path.is_file():
        return source
    for found in sorted(path.rglob("*")):
        if found.is_file() and "__pycache__" not in found.parts:
            return found.relative_to(ROOT).as_posix()
    raise AssertionError(f"{source} names nothing in the repository")


@pytest.mark.parametrize("source", copied_sources())
def test_every_copied_path_is_in_the_build_context(source: str) -> None:
    file = a_file_under(source)
    assert in_context(file, ignore_patterns()), f"{file} is copied but .dockerignore leaves it out"


def test_what_the_images_do_not_copy_stays_out() -> None:
    rules = ignore_patterns()
    for kept_out in ("tests/conftest.py", ".venv/bin/python", "service/__pycache__/app.pyc"):
        assert not in_context(kept_out, rules), kept_out


def test_the_copies_include_the_packages_the_service_imports() -> None:
    assert {"service", "uploads", "models", "training"} <= set(copied_sources())
