"""The registry on its own, with a stand-in for loading (no ONNX Runtime): what it loads and
when, what a request resolves to, what stays serving when the disk changes, and the plain
rows it publishes."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from service.errors import InvalidInput, NotFound, NotReady
from service.model import LoadedModel
from service.registry import Registry
from service.repository import LoadError, VersionFolder
from service.tasks import TASKS


class Loads:
    """Loads every version folder, except those whose `broken` file holds a reason."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, folder: VersionFolder) -> LoadedModel:
        self.calls.append((folder.name, folder.version))
        broken = folder.path / "model.onnx"
        if broken.exists() and broken.read_text().startswith("broken"):
            raise LoadError(broken.read_text())
        session: Any = SimpleNamespace(provider="TestProvider", fallback=None, cpu_below_rows=0)
        stand_in: Any = None  # the registry never looks into the manifest or the batcher
        return LoadedModel(
            folder.name, folder.version, stand_in, TASKS["multiclass"], session, stand_in, stand_in
        )


def version(root: Path, name: str, number: int, content: str = "fine") -> Path:
    folder = root / name / str(number)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_text(content)
    (folder / "manifest.json").write_text("{}")
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    version(tmp_path, "alpha", 1)
    version(tmp_path, "alpha", 2)
    version(tmp_path, "beta", 1)
    return tmp_path


def test_every_version_loads_and_a_request_gets_the_highest_ready_one(root: Path) -> None:
    loads, published = Loads(), []
    registry = Registry(root, loads, published.append)
    assert not registry.ready  # nothing read yet
    asyncio.run(registry.refresh())
    assert sorted(loads.calls) == [("alpha", 1), ("alpha", 2), ("beta", 1)]
    assert registry.ready
    assert registry.resolve("alpha").version == 2
    assert registry.resolve("alpha", "1").version == 1
    assert published[-1] == [
        ("alpha", 1, "TestProvider", 0),
        ("alpha", 2, "TestProvider", 0),
        ("beta", 1, "TestProvider", 0),
    ]


@pytest.mark.parametrize(
    ("name", "version_text", "error", "words"),
    [
        ("gamma", None, NotFound, "unknown model 'gamma'"),
        ("alpha", "7", NotFound, "has no version 7"),
        ("alpha", "07", InvalidInput, "invalid model version"),
        ("al:pha", None, InvalidInput, "invalid model name"),
    ],
)
def test_a_request_for_what_is_not_there_is_refused_naming_it(
    root: Path, name: str, version_text: str | None, error: type[Exception], words: str
) -> None:
    registry = Registry(root, Loads())
    asyncio.run(registry.refresh())
    with pytest.raises(error, match=words):
        registry.resolve(name, version_text)


def test_a_version_that_fails_to_load_is_not_ready_with_its_reason_and_the_rest_serve(
    root: Path,
) -> None:
    version(root, "beta", 1, "broken: the graph is bad")
    published: list[list[tuple[str, int, str | None, int]]] = []
    registry = Registry(root, Loads(), published.append)
    asyncio.run(registry.refresh())
    with pytest.raises(NotReady, match="the graph is bad"):
        registry.resolve("beta")
    assert registry.resolve("alpha").version == 2
    assert not registry.ready
    assert ("beta", 1, None, 0) in published[-1]


def test_unchanged_versions_are_not_loaded_again_and_changes_are_picked_up(root: Path) -> None:
    loads = Loads()
    registry = Registry(root, loads)
    asyncio.run(registry.refresh())
    loads.calls.clear()
    asyncio.run(registry.refresh())
    assert loads.calls == []
    version(root, "alpha", 3)
    shutil.rmtree(root / "beta")
    asyncio.run(registry.refresh())
    assert loads.calls == [("alpha", 3)]
    assert registry.resolve("alpha").version == 3
    with pytest.raises(NotFound):
        registry.resolve("beta")


def test_a_serving_version_whose_files_break_serves_on_from_memory(root: Path) -> None:
    registry = Registry(root, Loads())
    asyncio.run(registry.refresh())
    serving = registry.resolve("alpha")
    version(root, "alpha", 2, "broken: half copied, a longer file")
    asyncio.run(registry.refresh())
    assert registry.resolve("alpha") is serving
    reason = registry.status("alpha").versions[2].reason
    assert reason is not None and "serving the copy loaded earlier" in reason


def test_an_unloaded_model_stays_unloaded_until_loaded_explicitly(root: Path) -> None:
    registry = Registry(root, Loads())
    asyncio.run(registry.refresh())
    asyncio.run(registry.unload("beta"))
    with pytest.raises(NotReady, match="unloaded through the repository API"):
        registry.resolve("beta")
    asyncio.run(registry.refresh())  # a rescan does not bring it back
    with pytest.raises(NotReady):
        registry.resolve("beta")
    asyncio.run(registry.refresh(only="beta", explicit=True))
    assert registry.resolve("beta").version == 1


def test_loading_a_model_that_is_not_in_the_repository_is_not_found(root: Path) -> None:
    registry = Registry(root, Loads())
    with pytest.raises(NotFound, match="no model 'gamma'"):
        asyncio.run(registry.refresh(only="gamma", explicit=True))


def test_an_unreadable_repository_is_not_ready_and_says_why(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "missing", Loads())
    asyncio.run(registry.refresh())
    assert not registry.ready
    assert registry.repository_error is not None and "cannot read" in registry.repository_error
