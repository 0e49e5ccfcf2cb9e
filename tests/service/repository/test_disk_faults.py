"""Files and folders that do not behave like files: a FIFO where a model file should be, a
mount that stops answering, a folder that cannot be read. None of them may block hot reload,
the port, SIGTERM or the event loop, and none may take a serving version down."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from tests.builders import image_manifest, publish, random_mlp, standard_repository
from tests.servers import (
    ServerProcess,
    Traffic,
    bound_by_file_modes,
    running,
    running_process,
    wait_until,
)

PIXELS = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [3] * 784}]}


def version_state(client: httpx.Client, model: str, number: int) -> dict[str, object]:
    r = client.get(f"/v1/models/{model}")
    for v in r.json().get("versions", []) if r.status_code == 200 else []:
        if v["version"] == number:
            return v  # type: ignore[no-any-return]
    return {}


def failed_state(client: httpx.Client, model: str, number: int) -> dict[str, object] | None:
    state = version_state(client, model, number)
    return state if state.get("state") == "failed" else None


def served_version(client: httpx.Client) -> str | None:
    r = client.post("/v2/models/mnist/infer", json=PIXELS)
    return r.json()["model_version"] if r.status_code == 200 else None  # type: ignore[no-any-return]


def publish_fifo(repo: Path, version: int, fifo: str) -> None:
    """A version whose `fifo` file is a FIFO nobody writes to, renamed into place as
    publishers do; the other file is a valid manifest (its sha256 cannot match a FIFO)."""
    staging = repo / "mnist" / f".t-{version}"
    staging.mkdir()
    manifest = {**image_manifest("mnist", version), "model_sha256": "0" * 64}
    (staging / "manifest.json").write_text(json.dumps(manifest))
    (staging / "model.onnx").write_bytes(b"")
    (staging / fifo).unlink()
    os.mkfifo(staging / fifo)
    os.rename(staging, repo / "mnist" / str(version))


def stop_with_sigterm(srv: ServerProcess, within_s: float) -> float:
    started = time.monotonic()
    srv.process.send_signal(signal.SIGTERM)
    try:
        srv.process.wait(timeout=within_s)
    except Exception:
        raise AssertionError(
            f"SIGTERM ignored for {within_s} s; log:\n{srv.log_text()[-2000:]}"
        ) from None
    return time.monotonic() - started


def answers_quickly(url: str) -> float:
    started = time.monotonic()
    assert httpx.get(url + "/v2/health/live", timeout=5).status_code == 200
    return time.monotonic() - started


@pytest.mark.parametrize("fifo", ["model.onnx", "manifest.json"])
def test_a_fifo_in_a_version_fails_it_and_the_next_version_still_loads(
    tmp_path: Path, fifo: str
) -> None:
    repo = standard_repository(tmp_path / "models")
    with (
        running_process(repo, reload_interval_s="0.2") as srv,
        httpx.Client(base_url=srv.url, timeout=5) as client,
    ):
        publish_fifo(repo, 2, fifo)
        state = wait_until(lambda: failed_state(client, "mnist", 2), timeout=10)
        assert "not a regular file" in str(state["reason"]), state
        assert served_version(client) == "1"
        publish(repo, random_mlp(3), image_manifest("mnist", 3))
        wait_until(lambda: served_version(client) == "3", timeout=10)
        assert answers_quickly(srv.url) < 0.5
        assert stop_with_sigterm(srv, within_s=10) < 10


def test_with_a_fifo_in_the_repository_the_port_opens_and_sigterm_stops_the_server(
    tmp_path: Path,
) -> None:
    repo = standard_repository(tmp_path / "models")
    publish_fifo(repo, 2, "model.onnx")
    publish_fifo(repo, 3, "manifest.json")
    started = time.monotonic()
    with (
        running_process(repo) as srv,
        httpx.Client(base_url=srv.url, timeout=5) as client,
    ):
        print(f"\nthe port opened after {time.monotonic() - started:.1f} s")
        assert "not a regular file" in str(version_state(client, "mnist", 2)["reason"])
        assert "not a regular file" in str(version_state(client, "mnist", 3)["reason"])
        assert served_version(client) == "1"
        assert client.get("/v2/health/ready").status_code == 200  # version 1 serves
        assert stop_with_sigterm(srv, within_s=10) < 10


def hung(repo: Path, path: Path, calls: str, **env: str) -> AbstractContextManager[ServerProcess]:
    """A server process where `calls` on `path` (and below) never return; reads of the disk
    give up after 1 s."""
    return running_process(
        repo,
        module="tests.hung_disk",
        environment={"HUNG_PATH": str(path), "HUNG_CALLS": calls},
        disk_timeout_s="1",
        **env,
    )


def test_a_model_folder_on_a_hung_mount_blocks_neither_the_port_nor_reloads_nor_sigterm(
    tmp_path: Path,
) -> None:
    repo = standard_repository(tmp_path / "models")
    publish(repo, random_mlp(4), image_manifest("stuck", 1))
    with (
        hung(repo, repo / "stuck", "open,scandir,stat", reload_interval_s="0.2") as srv,
        httpx.Client(base_url=srv.url, timeout=5) as client,
    ):
        assert served_version(client) == "1"
        ready = client.get("/v2/models/stuck/ready")
        assert ready.status_code == 503 and "answer" in ready.json()["error"], ready.text
        assert client.get("/v2/health/ready").status_code == 200  # the others serve
        publish(repo, random_mlp(5), image_manifest("mnist", 2))
        wait_until(lambda: served_version(client) == "2", timeout=10)
        assert max(answers_quickly(srv.url) for _ in range(10)) < 0.5
        assert stop_with_sigterm(srv, within_s=10) < 10


def test_a_version_whose_reads_hang_fails_and_the_next_version_loads(tmp_path: Path) -> None:
    repo = standard_repository(tmp_path / "models")
    with (
        hung(repo, repo / "mnist" / "2" / "model.onnx", "open", reload_interval_s="0.2") as srv,
        httpx.Client(base_url=srv.url, timeout=5) as client,
    ):
        publish(repo, random_mlp(6), image_manifest("mnist", 2))
        state = wait_until(lambda: failed_state(client, "mnist", 2), timeout=10)
        assert "answer" in str(state["reason"]), state
        assert served_version(client) == "1"
        assert client.get("/v2/health/ready").status_code == 200
        publish(repo, random_mlp(7), image_manifest("mnist", 3))
        wait_until(lambda: served_version(client) == "3", timeout=10)
        assert max(answers_quickly(srv.url) for _ in range(10)) < 0.5
        assert stop_with_sigterm(srv, within_s=10) < 10


def test_a_repository_that_hangs_from_the_start_still_opens_the_port(tmp_path: Path) -> None:
    repo = standard_repository(tmp_path / "models")
    with hung(repo, repo, "scandir") as srv, httpx.Client(base_url=srv.url) as client:
        ready = client.get("/v2/health/ready")
        assert ready.status_code == 503 and "answer" in ready.json()["error"], ready.text
        assert stop_with_sigterm(srv, within_s=10) < 10


# -- an unreadable model folder -----------------------------------------------------------------


def test_a_model_folder_that_cannot_be_read_for_a_while_serves_on_from_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan sees what `chmod 000 models/mnist` shows a process that is not root."""
    repo = standard_repository(tmp_path / "models")
    denied = threading.Event()
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:
        if denied.is_set() and isinstance(path, str | os.PathLike) and Path(path).name == "mnist":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    with (
        running(repo, reload_interval_s=0.1) as srv,
        httpx.Client(base_url=srv.url) as client,
        Traffic(srv.url, "/v2/models/mnist/infer", PIXELS) as traffic,
    ):
        wait_until(lambda: traffic.statuses[200] > 20)
        denied.set()
        state = wait_until(
            lambda: (
                "Permission denied" in str(version_state(client, "mnist", 1).get("reason"))
                and version_state(client, "mnist", 1)
            )
        )
        assert state["state"] == "ready"
        time.sleep(3)
        assert client.get("/v2/health/ready").status_code == 200
        denied.clear()
        wait_until(lambda: version_state(client, "mnist", 1).get("reason") is None)
    assert set(traffic.statuses) == {200}, (traffic.statuses, traffic.bodies)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return standard_repository(tmp_path / "models")


def test_chmod_000_on_a_model_folder_under_load_gives_no_errors(repo: Path) -> None:
    """The real thing, in a server process that file modes bind (even when tests run as root)."""
    folder = repo / "mnist"
    with (
        running_process(repo, prefix=bound_by_file_modes(), reload_interval_s="0.1") as srv,
        Traffic(srv.url, "/v2/models/mnist/infer", PIXELS) as traffic,
    ):
        wait_until(lambda: traffic.statuses[200] > 20)
        folder.chmod(0o000)
        try:
            time.sleep(3)
            with httpx.Client(base_url=srv.url) as client:
                reason = str(version_state(client, "mnist", 1).get("reason"))
        finally:
            folder.chmod(0o755)
        assert "Permission denied" in reason, reason
        served = traffic.statuses[200]
        wait_until(lambda: traffic.statuses[200] > served + 20)
    assert set(traffic.statuses) == {200}, (traffic.statuses, traffic.bodies)
