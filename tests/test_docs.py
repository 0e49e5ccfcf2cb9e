"""The docs point at code that exists: every file a page of docs/ or the README names in
backticks (`api/gateway.py`, `control_state.py`) is in the repository, and every function,
class or method it names there (`api/gateway.py:Gateway.__call__`) is defined in that file.
A walk through the code that names a moved or renamed module fails here, not in a reader's
hands."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REFERENCE = re.compile(r"`((?:[\w.-]+/)*[\w.-]+\.py)(?::([\w.]+))?`")


def tracked() -> list[str]:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return files.splitlines()


FILES = tracked()


def resolve(path: str) -> Path | None:
    """A path as the docs write it: from the root, from service/ (architecture.md's walks),
    from modelrepo/ (model-repository.md's), or the one file of that name."""
    for prefix in ("", "service/", "modelrepo/"):
        if prefix + path in FILES:
            return ROOT / (prefix + path)
    matches = [f for f in FILES if f.endswith("/" + path)]
    return ROOT / matches[0] if len(matches) == 1 else None


def defines(source: str, name: str) -> bool:
    pattern = rf"^\s*(?:async def|def|class) {re.escape(name)}\b|^{re.escape(name)}\s*[:=]"
    return re.search(pattern, source, re.MULTILINE) is not None


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_file_and_name_the_page_points_at_exists(page: Path) -> None:
    missing = []
    for path, names in sorted(set(REFERENCE.findall(page.read_text()))):
        found = resolve(path)
        if found is None:
            missing.append(path)
            continue
        source = found.read_text()
        missing += [
            f"{path}:{names}" for name in names.split(".") if name and not defines(source, name)
        ]
    assert not missing, missing
