"""The registry on its own, with a stand-in for loading (no ONNX Runtime): what it loads and
when, what a request resolves to, what stays serving when the disk changes, and the plain
rows it publishes."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from service.errors import InvalidInput, NotFound, NotReady
from service.protocol.task_policies import TASKS
from service.repository.disk import Disk
from service.repository.folders import LoadError, ModelFolder, VersionFolder
from service.runtime import load_slots
from service.runtime.load_slots import LoadSlots, LoadTimeout
from service.runtime.loaded_model import LoadedModel
from service.serving import registry as registry_module
from service.serving.registry import Registry, ReloadTimings


class Loads:
    """Loads every version folder, except those whose model.onnx says "broken: <reason>"."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def read(self, folder: VersionFolder) -> str:
        self.calls.append((folder.name, folder.version))
        return (folder.path / "model.onnx").read_text()

    def build(self, folder: VersionFolder, files: str, deadline: float) -> LoadedModel:
        if files.startswith("broken"):
            raise LoadError(files)
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
    assert registry.ready  # beta is reported, and keeps nothing else out of service
    assert ("beta", 1, None, 0) in published[-1]
    strict = Registry(root, Loads(), strict_readiness=True)
    asyncio.run(strict.refresh())
    assert not strict.ready


def test_readiness_waits_for_the_first_scan_and_for_some_model_to_serve(root: Path) -> None:
    for name in ("alpha", "beta"):
        for folder in (root / name).iterdir():
            (folder / "model.onnx").write_text("broken: nothing loads")
    registry = Registry(root, Loads())
    assert not registry.ready
    asyncio.run(registry.refresh())
    assert not registry.ready


def test_unchanged_versions_are_not_loaded_again_and_changes_are_picked_up(root: Path) -> None:
    loads = Loads()
    registry = Registry(root, loads, timings=ReloadTimings(removal_grace_s=0))
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
    asyncio.run(registry.load("beta"))
    assert registry.resolve("beta").version == 1


def test_control_actions_are_state_in_the_repository_that_other_processes_apply(
    root: Path,
) -> None:
    """Another worker, another replica or a restart reads the same control.json."""
    here, there = Registry(root, Loads()), Registry(root, Loads())
    asyncio.run(here.refresh())
    asyncio.run(there.refresh())
    asyncio.run(here.unload("beta"))
    assert (root / "beta" / "control.json").is_file()
    asyncio.run(there.refresh())
    with pytest.raises(NotReady, match="unloaded"):
        there.resolve("beta")
    restarted = Registry(root, Loads())
    asyncio.run(restarted.refresh())
    with pytest.raises(NotReady, match="unloaded"):
        restarted.resolve("beta")
    asyncio.run(here.control("alpha", "pin", 1))
    asyncio.run(there.refresh())
    assert there.resolve("alpha").version == 1
    asyncio.run(there.load("beta"))
    asyncio.run(here.refresh())
    assert here.resolve("beta").version == 1


def test_loading_a_model_that_is_not_in_the_repository_is_not_found(root: Path) -> None:
    registry = Registry(root, Loads())
    with pytest.raises(NotFound, match="no model 'gamma'"):
        asyncio.run(registry.refresh(only="gamma", explicit=True))


def test_an_unreadable_repository_is_not_ready_and_says_why(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "missing", Loads())
    asyncio.run(registry.refresh())
    assert not registry.ready
    assert registry.repository_error is not None and "cannot read" in registry.repository_error


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky(Loads):
    """alpha/3 cannot be read the first `failures` times, as under a wrong file mode."""

    def __init__(self, failures: int, clock: Clock) -> None:
        super().__init__()
        self.failures, self.clock, self.tries = failures, clock, []  # type: list[float]

    def read(self, folder: VersionFolder) -> str:
        if (folder.name, folder.version) == ("alpha", 3):
            self.tries.append(self.clock.now)
            if len(self.tries) <= self.failures:
                raise LoadError("cannot read model.onnx: Permission denied")
        return super().read(folder)


def test_a_failed_version_is_retried_with_a_doubling_backoff_though_its_files_are_unchanged(
    root: Path,
) -> None:
    clock = Clock()
    loads = Flaky(failures=4, clock=clock)
    registry = Registry(root, loads, clock=clock, timings=ReloadTimings(retry_max_s=3))
    version(root, "alpha", 3)
    start = clock.now
    for _ in range(120):  # 12 s of rescans, one every 0.1 s
        asyncio.run(registry.refresh())
        clock.now += 0.1
    gaps = [round(b - a, 1) for a, b in zip(loads.tries, loads.tries[1:])]
    assert loads.tries[0] == start and gaps == [1.0, 2.0, 3.0, 3.0]  # then it loaded
    assert registry.resolve("alpha").version == 3
    assert registry.status("alpha").versions[3].reason is None


def test_an_explicit_load_retries_a_failed_version_at_once(root: Path) -> None:
    clock = Clock()
    loads = Flaky(failures=1, clock=clock)
    registry = Registry(root, loads, clock=clock)
    version(root, "alpha", 3)
    asyncio.run(registry.refresh())
    assert "Permission denied" in str(registry.status("alpha").versions[3].reason)
    asyncio.run(registry.refresh())  # not yet due
    assert len(loads.tries) == 1
    asyncio.run(registry.refresh(only="alpha", explicit=True))
    assert len(loads.tries) == 2 and registry.resolve("alpha").version == 3


def test_a_serving_version_whose_files_fail_is_retried_too(root: Path) -> None:
    clock = Clock()
    loads = Loads()
    registry = Registry(root, loads, clock=clock)
    asyncio.run(registry.refresh())
    serving = registry.resolve("alpha")
    version(root, "alpha", 2, "broken: half copied, a longer file")
    asyncio.run(registry.refresh())
    assert registry.resolve("alpha") is serving
    loads.calls.clear()
    (root / "alpha" / "2" / "model.onnx").write_text("fine, and as long as before....")
    clock.now += 1.5
    asyncio.run(registry.refresh())
    assert ("alpha", 2) in loads.calls
    assert registry.status("alpha").versions[2].reason is None


def test_a_model_that_vanishes_briefly_serves_on_and_comes_back_without_a_reload(
    root: Path,
) -> None:
    clock = Clock()
    loads = Loads()
    registry = Registry(root, loads, clock=clock, timings=ReloadTimings(removal_grace_s=5))
    asyncio.run(registry.refresh())
    serving = registry.resolve("beta")
    loads.calls.clear()
    (root / "beta").rename(root / ".beta-away")
    for _ in range(4):
        asyncio.run(registry.refresh())
        clock.now += 1
        assert registry.resolve("beta") is serving
    assert "gone" in str(registry.status("beta").versions[1].reason)
    (root / ".beta-away").rename(root / "beta")
    asyncio.run(registry.refresh())
    assert registry.resolve("beta") is serving and loads.calls == []
    assert registry.status("beta").versions[1].reason is None and registry.ready


def test_a_model_or_version_gone_for_good_is_dropped_after_the_grace(root: Path) -> None:
    clock = Clock()
    registry = Registry(root, Loads(), clock=clock, timings=ReloadTimings(removal_grace_s=5))
    asyncio.run(registry.refresh())
    shutil.rmtree(root / "beta")
    shutil.rmtree(root / "alpha" / "2")
    asyncio.run(registry.refresh())
    clock.now += 4.9
    asyncio.run(registry.refresh())
    assert registry.resolve("beta").version == 1 and registry.resolve("alpha").version == 2
    clock.now += 0.2
    asyncio.run(registry.refresh())
    with pytest.raises(NotFound):
        registry.resolve("beta")
    assert registry.resolve("alpha").version == 1
    assert list(registry.status("alpha").versions) == [1]


def test_a_model_folder_that_cannot_be_read_serves_on_from_memory(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = Loads()
    registry = Registry(root, loads)
    asyncio.run(registry.refresh())
    serving = registry.resolve("alpha")
    loads.calls.clear()
    denied = ModelFolder("alpha", error="cannot read the model folder: Permission denied")
    real_scan_model = registry_module.scan_model
    monkeypatch.setattr(
        registry_module,
        "scan_model",
        lambda root, name: denied if name == "alpha" else real_scan_model(root, name),
    )
    asyncio.run(registry.refresh())
    assert registry.resolve("alpha") is serving and registry.ready
    assert "Permission denied" in str(registry.status("alpha").versions[2].reason)
    monkeypatch.setattr(registry_module, "scan_model", real_scan_model)
    asyncio.run(registry.refresh())
    assert registry.resolve("alpha") is serving and loads.calls == []
    assert registry.status("alpha").versions[2].reason is None


class Hangs(Loads):
    """Reading alpha/3 blocks until released, as on a mount that stopped answering."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def read(self, folder: VersionFolder) -> str:
        if (folder.name, folder.version) == ("alpha", 3):
            self.release.wait(10)
        return super().read(folder)


def test_a_read_that_hangs_holds_up_neither_unloads_nor_other_versions(root: Path) -> None:
    loads = Hangs()
    clock = Clock()
    registry = Registry(root, loads, disk=Disk(timeout_s=2), clock=clock)

    async def scenario() -> None:
        await registry.refresh()
        version(root, "alpha", 3)
        version(root, "gamma", 1)
        refresh = asyncio.create_task(registry.refresh())
        await asyncio.sleep(0.05)  # reading alpha/3 now hangs, for 2 s
        await asyncio.wait_for(registry.unload("beta"), 0.5)
        assert not refresh.done()
        await asyncio.wait_for(refresh, 5)
        clock.now += 1.5
        await registry.refresh()  # the earlier read still hangs: no second thread waits

    try:
        asyncio.run(scenario())
        reason = str(registry.status("alpha").versions[3].reason)
        assert "no answer to a read started" in reason, reason
        assert registry.resolve("alpha").version == 2
        assert registry.resolve("gamma").version == 1
        assert registry.status("beta").unloaded  # the unload won over the refresh
        reading = [t for t in threading.enumerate() if t.name.endswith("/alpha/3")]
        assert len(reading) == 1  # the one hung read, not one more per rescan
    finally:
        loads.release.set()
    clock.now += 5
    wait = time.monotonic() + 5
    while registry.status("alpha").versions[3].model is None and time.monotonic() < wait:
        asyncio.run(registry.refresh())
        clock.now += 5
    assert registry.resolve("alpha").version == 3


class Slow(Loads):
    """Building alpha/3 takes until released, ignoring its deadline, as a session that ONNX
    Runtime takes minutes to create (nothing can interrupt it)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def build(self, folder: VersionFolder, files: str, deadline: float) -> LoadedModel:
        if (folder.name, folder.version) == ("alpha", 3):
            self.release.wait(20)
        return super().build(folder, files, deadline)


def test_a_version_slower_than_the_load_deadline_holds_up_no_other_model_nor_the_start(
    root: Path,
) -> None:
    loads = Slow()
    version(root, "alpha", 3)
    registry = Registry(root, loads, slots=LoadSlots(slots=2, timeout_s=0.5))

    def serves(name: str) -> bool:
        status = registry.models.get(name)
        return status is not None and status.serving is not None

    async def scenario() -> float:
        started = time.monotonic()
        first = asyncio.create_task(registry.refresh())
        # While alpha/3 loads, every other model is published as soon as it is ready.
        while not serves("beta"):
            await asyncio.sleep(0.01)
        assert not first.done()
        # A new model, and a control action elsewhere, are not held up by alpha/3 either.
        version(root, "gamma", 1)
        await asyncio.wait_for(registry.refresh(only="gamma"), 0.3)
        await asyncio.wait_for(registry.unload("beta"), 0.3)
        await first
        return time.monotonic() - started

    try:
        took = asyncio.run(scenario())
        # The first refresh waits for the deadline (and a moment for the load to report).
        assert took < 0.5 + load_slots.REPORT_S + 1.0, took
        reason = str(registry.status("alpha").versions[3].reason)
        assert reason == "it did not load and warm up within 0.5 s", reason
        assert registry.resolve("alpha").version == 2  # its other versions serve
        assert registry.resolve("gamma").version == 1 and registry.status("beta").unloaded
        abandoned = [t for t in threading.enumerate() if t.name.endswith("alpha/3")]
        assert len(abandoned) == 1  # it keeps its slot until it ends
    finally:
        loads.release.set()


def test_abandoned_loads_never_hold_more_threads_than_the_slots() -> None:
    slots = LoadSlots(slots=2, timeout_s=0.05)
    release = threading.Event()
    most = 0

    def stuck(deadline: float) -> None:
        nonlocal most
        most = max(most, slots.running)
        release.wait(0.5 + load_slots.REPORT_S)

    async def scenario() -> list[BaseException | None]:
        loads = [slots.run(f"stuck {i}", stuck) for i in range(6)]
        return await asyncio.gather(*loads, return_exceptions=True)

    outcomes = asyncio.run(scenario())
    assert all(isinstance(o, LoadTimeout) for o in outcomes), outcomes
    assert most == 2  # the third waited for a thread to end, not for its caller to give up
    release.set()


class Surprising(Loads):
    """Reading beta fails in a way no one planned for (a bug, a library's own exception)."""

    def read(self, folder: VersionFolder) -> str:
        if folder.name == "beta":
            raise RuntimeError("something no one planned for")
        return super().read(folder)


def test_one_models_unexpected_error_leaves_the_others_loading_and_rescans_going(
    root: Path,
) -> None:
    registry = Registry(root, Surprising())
    asyncio.run(registry.refresh())
    assert registry.resolve("alpha").version == 2
    with pytest.raises(NotReady, match="an internal error while loading it"):
        registry.resolve("beta")
    version(root, "alpha", 3)
    asyncio.run(registry.refresh())
    assert registry.resolve("alpha").version == 3
