from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import standard_repository
from tests.servers import ServerProcess, running_process

API_KEY = "client-test-key-0123456789"


@pytest.fixture(scope="package")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standard_repository(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="package")
def server(repository: Path) -> Iterator[ServerProcess]:
    """`python -m service` in its own process on a loopback port, as users run it."""
    with running_process(repository, "--reload-interval-s", "0") as srv:
        yield srv


@pytest.fixture(scope="package")
def keyed_server(repository: Path) -> Iterator[ServerProcess]:
    with running_process(repository, "--reload-interval-s", "0", "--api-keys", API_KEY) as srv:
        yield srv
