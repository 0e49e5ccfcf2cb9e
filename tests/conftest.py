from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# `tests` is a package of helpers (builders, servers) shared by the test folders.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_addoption(parser: object) -> None:
    parser.addoption(  # type: ignore[attr-defined]
        "--long-load",
        action="store_true",
        help="run the load tests in their long form (100k requests, a minute of mixed load)",
    )


@pytest.fixture(scope="session", autouse=True)
def no_server_left_running() -> Iterator[None]:
    """After the whole session, no server process a test started (nor its workers) lives on."""
    yield
    from tests.servers import left_running

    pids = left_running()
    for pid in pids:  # leave the machine clean, then fail the run
        os.kill(pid, signal.SIGKILL)
    assert not pids, f"server processes left running after the tests: {pids}"


SHIPPED_VERSION = 1


@pytest.fixture(scope="session")
def shipped_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The models as shipped (version 1 of each), copied: versions a user trains into models/
    never change what the suite serves or checks."""
    root = tmp_path_factory.mktemp("shipped")
    for folder in sorted((ROOT / "models").iterdir()):
        version = folder / str(SHIPPED_VERSION)
        if version.is_dir():
            shutil.copytree(version, root / folder.name / str(SHIPPED_VERSION))
    return root
