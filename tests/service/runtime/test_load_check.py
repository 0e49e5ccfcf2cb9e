"""A version loads first in a process of its own, within a memory limit and the load
deadline (runtime/load_check.py): a 30 KB graph that takes a gigabyte or minutes to load and
warm up is refused with the reason, and the server neither spends the memory nor waits."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from modelrepo.manifest import Manifest
from service.repository.folders import LoadError
from service.runtime.load_check import LoadCheck
from service.runtime.sessions import Runtime
from tests.builders import (
    image_manifest,
    looping_mlp,
    memory_hungry_mlp,
    publish,
    random_mlp,
    standard_repository,
)
from tests.servers import running_process, wait_until

MIB = 1024 * 1024
MNIST = Manifest.model_validate(image_manifest("mnist", 1) | {"model_sha256": "0" * 64})
PIXELS = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [7] * 784}]}
MINUTES = 10**9  # Loop trips: about half an hour per call


def children() -> list[int]:
    """This process's live child processes."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def test_a_small_model_passes_the_check() -> None:
    LoadCheck(256 * MIB, 30).run(random_mlp(0).SerializeToString(), MNIST, time.monotonic() + 30)


@pytest.mark.parametrize(
    ("floats", "said"),
    [
        (40_000_000, r"it takes \d+ MiB of memory to load and warm up, over the limit of 256 MiB"),
        (300_000_000, "it cannot load and warm up within the limit of 256 MiB"),
    ],
    ids=["folded-at-creation", "allocated-by-the-warm-up"],
)
def test_a_graph_that_takes_more_memory_than_the_limit_is_refused_naming_it(
    floats: int, said: str
) -> None:
    data = memory_hungry_mlp(floats).SerializeToString()
    with pytest.raises(LoadError, match=said) as refused:
        LoadCheck(256 * MIB, 60).run(data, MNIST, time.monotonic() + 60)
    assert "(--max-load-memory-mib)" in str(refused.value)


def test_a_graph_slower_than_the_deadline_is_refused_and_its_process_killed() -> None:
    data = looping_mlp(MINUTES).SerializeToString()
    others = set(children())  # the suite's own servers and browsers, started before
    started = time.monotonic()
    with pytest.raises(
        LoadError, match=r"did not load and warm up within 1 s \(--load-timeout-s\)"
    ):
        LoadCheck(256 * MIB, 1).run(data, MNIST, started + 1)
    assert time.monotonic() - started < 3
    assert set(children()) - others == set()


def test_the_servers_own_warm_up_stops_at_the_deadline() -> None:
    # Without the check (--max-load-memory-mib 0) the server's warm-up is what runs the Loop:
    # ONNX Runtime stops it at the deadline (RunOptions.terminate), inside the Loop.
    data = looping_mlp(MINUTES).SerializeToString()
    started = time.monotonic()
    with pytest.raises(LoadError, match="did not warm up before the load deadline"):
        Runtime(["CPUExecutionProvider"], 1).create(data, MNIST, started + 0.5)
    assert time.monotonic() - started < 2


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _version(client: httpx.Client, model: str, number: int) -> dict[str, object]:
    for v in client.get(f"/v1/models/{model}").json()["versions"]:
        if v["version"] == number:
            return v  # type: ignore[no-any-return]
    return {}


def test_a_model_that_takes_a_gigabyte_to_load_never_takes_it_from_the_server(
    tmp_path: Path,
) -> None:
    repo = standard_repository(tmp_path / "models")
    with (
        running_process(repo, reload_interval_s="0.2") as srv,
        httpx.Client(base_url=srv.url, timeout=10) as client,
    ):
        before = _peak_mb(srv.process.pid)
        publish(repo, memory_hungry_mlp(300_000_000), image_manifest("mnist", 2))  # 1.2 GB
        state = wait_until(lambda: _version(client, "mnist", 2).get("state"), timeout=30)
        reason = str(_version(client, "mnist", 2)["reason"])
        assert state == "failed" and "(--max-load-memory-mib)" in reason, reason
        assert client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "1"
        # Not even for a moment: the server's peak resident memory did not move.
        assert _peak_mb(srv.process.pid) - before < 100


def test_a_model_slower_than_the_deadline_delays_neither_the_start_nor_other_models(
    tmp_path: Path,
) -> None:
    repo = standard_repository(tmp_path / "models")
    publish(repo, looping_mlp(MINUTES), image_manifest("mnist", 2))
    started = time.monotonic()
    with (
        running_process(repo, reload_interval_s="0.2", load_timeout_s="2") as srv,
        httpx.Client(base_url=srv.url, timeout=10) as client,
    ):
        assert time.monotonic() - started < 15  # 2 s for mnist/2, the rest side by side
        reason = str(_version(client, "mnist", 2)["reason"])
        assert "did not load and warm up within 2 s (--load-timeout-s)" in reason, reason
        assert client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "1"
        # mnist/2 is tried again and again (1 s, 2 s, 4 s later): meanwhile, another model's
        # new version serves at once, and no more check processes run than --max-loading.
        publish(repo, random_mlp(5, row_shape=(28, 28)), image_manifest("mnist-cnn", 2, flat=False))
        wait_until(
            lambda: client.get("/v2/models/mnist-cnn").json()["versions"] == ["1", "2"],
            timeout=5,
        )
        most = 0
        for _ in range(40):
            server = srv.process.pid
            checks = [p for p in _descendants(server) if p != server]
            most = max(most, len(checks))
            time.sleep(0.1)
        assert most <= 2


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) in found and fields[0] != "Z":
            found.append(int(entry.name))
    return found
