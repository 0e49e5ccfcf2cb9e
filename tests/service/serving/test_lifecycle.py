"""Faults and lifecycle: broken files, deletions under load, a storm of new versions, SIGTERM
with requests in flight, and empty, read-only or partly unreadable repositories."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import onnx
import pytest

from tests.builders import image_manifest, publish, random_mlp, slow_mlp, standard_repository
from tests.servers import RunningServer, Traffic, running, running_process, wait_until

PIXELS = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [9] * 784}]}
ROW = {"instances": [[20, 5, 3, 7]]}
TOKEN = "a-control-token-of-some-length"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return standard_repository(tmp_path / "models")


@pytest.fixture
def live(repo: Path) -> Iterator[RunningServer]:
    with running(repo, reload_interval_s=0.1, control_token=TOKEN) as srv:
        yield srv


def version_state(client: httpx.Client, model: str, number: int) -> dict[str, object]:
    for v in client.get(f"/v1/models/{model}").json()["versions"]:
        if v["version"] == number:
            return v  # type: ignore[no-any-return]
    return {}


def test_a_model_with_external_data_is_not_ready_and_its_files_are_not_read(
    live: RunningServer, repo: Path, tmp_path: Path
) -> None:
    folder = repo / "mnist" / ".tmp-ext"
    folder.mkdir()
    onnx.save_model(
        random_mlp(),
        folder / "model.onnx",
        save_as_external_data=True,
        location="weights.bin",
        size_threshold=0,
    )
    data = (folder / "model.onnx").read_bytes()
    manifest = {**image_manifest("mnist", 2), "model_sha256": hashlib.sha256(data).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    os.rename(folder, repo / "mnist" / "2")
    with httpx.Client(base_url=live.url) as client:
        state = wait_until(
            lambda: (
                version_state(client, "mnist", 2).get("state") == "failed"
                and version_state(client, "mnist", 2)
            )
        )
        assert "external data" in str(state["reason"])
        assert "/" not in str(state["reason"])  # no file paths in what clients see
        assert client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "1"


def test_an_oversized_model_is_not_ready(repo: Path) -> None:
    with (
        running(repo, reload_interval_s=0, max_model_bytes=10_000) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        state = version_state(client, "mnist", 1)
        assert state["state"] == "failed" and "larger than the limit" in str(state["reason"])
        assert client.post("/v1/models/tshirt/predict", json=ROW).status_code == 200


def test_deleting_the_serving_version_under_load_falls_back_without_failures(
    live: RunningServer, repo: Path
) -> None:
    publish(repo, random_mlp(11), image_manifest("mnist", 2))
    with httpx.Client(base_url=live.url) as client:
        wait_until(
            lambda: (
                client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "2"
            )
        )
        with Traffic(live.url, "/v2/models/mnist/infer", PIXELS) as traffic:
            wait_until(lambda: traffic.versions["2"] > 10)
            shutil.rmtree(repo / "mnist" / "2")
            wait_until(lambda: traffic.versions["1"] > 10)
    assert set(traffic.statuses) == {200}, traffic.statuses


def test_deleting_a_whole_model_under_load_leaves_the_others_serving(
    live: RunningServer, repo: Path
) -> None:
    with (
        Traffic(live.url, "/v1/models/tshirt/predict", ROW) as others,
        Traffic(live.url, "/v2/models/mnist/infer", PIXELS, workers=2) as doomed,
    ):
        wait_until(lambda: doomed.statuses[200] > 10)
        shutil.rmtree(repo / "mnist")
        wait_until(lambda: doomed.statuses[404] > 10)
    assert set(others.statuses) == {200}, others.statuses
    assert set(doomed.statuses) <= {200, 404}, doomed.bodies  # never a 5xx


def test_twenty_versions_in_ten_seconds_with_load_and_unload_calls(tmp_path: Path) -> None:
    repo = standard_repository(tmp_path / "models")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with (
        running_process(repo, reload_interval_s="0.2", control_token=TOKEN) as srv,
        httpx.Client(base_url=srv.url, headers=auth, timeout=30) as client,
    ):
        client.post("/v2/models/mnist/infer", json=PIXELS)
        rss_before = srv.rss_mb()
        control: Counter[int] = Counter()
        stop = threading.Event()

        def churn() -> None:
            with httpx.Client(base_url=srv.url, headers=auth, timeout=30) as c:
                while not stop.is_set():
                    for verb in ("unload", "load"):
                        control[c.post(f"/v2/repository/models/mnist/{verb}").status_code] += 1

        with Traffic(srv.url, "/v1/models/tshirt/predict", ROW) as others:
            churner = threading.Thread(target=churn)
            churner.start()
            for version in range(2, 22):
                folder = publish(repo, random_mlp(version), image_manifest("mnist", version))
                if version == 21:  # the newest is broken: the highest *valid* one must serve
                    (folder / "model.onnx").write_bytes(b"broken")
                time.sleep(0.5)
            stop.set()
            churner.join(timeout=30)
            assert not churner.is_alive(), "deadlock in load/unload"
        assert set(others.statuses) == {200}, others.statuses
        assert set(control) <= {200, 400}, control  # a load may fail on a broken file: never 5xx
        client.post("/v2/repository/models/mnist/load")
        final = client.post("/v2/models/mnist/infer", json=PIXELS)
        assert final.status_code == 200 and final.json()["model_version"] == "20"
        for version in range(2, 20):
            shutil.rmtree(repo / "mnist" / str(version))
        wait_until(lambda: client.get("/v2/models/mnist").json()["versions"] == ["1", "20"])
        for _ in range(200):
            client.post("/v2/models/mnist/infer", json=PIXELS)
        assert srv.rss_mb() < rss_before + 40, (rss_before, srv.rss_mb())


def test_sigterm_lets_requests_in_flight_finish_and_refuses_new_ones(tmp_path: Path) -> None:
    repo = tmp_path / "models"
    publish(repo, slow_mlp(), image_manifest("slow", 1))
    rows = np.ones((2048, 784), dtype=np.uint8)  # about 0.3 s of work each, sent as binary
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "pixels",
                    "shape": [2048, 784],
                    "datatype": "UINT8",
                    "parameters": {"binary_data_size": rows.nbytes},
                }
            ]
        }
    ).encode()
    with running_process(repo, graceful_shutdown_s="20") as srv:
        results: list[int] = []

        def one() -> None:
            with httpx.Client(base_url=srv.url, timeout=30) as c:
                r = c.post(
                    "/v2/models/slow/infer",
                    content=header + rows.tobytes(),
                    headers={"Inference-Header-Content-Length": str(len(header))},
                )
                results.append(r.status_code)

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        wait_until(lambda: _inflight(srv.url) >= 4, timeout=20)
        started = time.monotonic()
        srv.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        # A new connection is answered 503 while HTTP drains (--drain-s), refused after it.
        with contextlib.suppress(httpx.TransportError):  # refused: the drain was over
            late = httpx.get(srv.url + "/v2/health/live", timeout=2)
            assert late.status_code == 503 and "shutting down" in late.json()["error"]
            assert late.headers["connection"] == "close"
        for t in threads:
            t.join(timeout=30)
        srv.process.wait(timeout=25)
        drained = time.monotonic() - started
    print(f"\nSIGTERM with 6 requests in flight: all answered 200, exited after {drained:.2f} s")
    assert results == [200] * 6, results
    assert drained < 20


def _inflight(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("logitserve_inflight_requests "):
            return float(line.split()[1])
    return 0.0


def test_an_empty_repository_is_live_but_not_ready_until_a_model_arrives(tmp_path: Path) -> None:
    repo = tmp_path / "models"
    repo.mkdir()
    with running(repo, reload_interval_s=0.1) as srv, httpx.Client(base_url=srv.url) as client:
        assert client.get("/v2/health/live").status_code == 200
        r = client.get("/v2/health/ready")
        assert r.status_code == 503 and "no models" in r.json()["error"]
        publish(repo, random_mlp(), image_manifest("mnist", 1))
        wait_until(lambda: client.get("/v2/health/ready").status_code == 200)


def test_a_missing_repository_is_reported(tmp_path: Path) -> None:
    with (
        running(tmp_path / "nowhere", reload_interval_s=0) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        assert client.get("/v2/health/live").status_code == 200
        r = client.get("/v2/health/ready")
        assert r.status_code == 503 and "cannot read the model repository" in r.json()["error"]
        assert str(tmp_path) not in r.text


def test_a_read_only_repository_serves(repo: Path) -> None:
    for path in [repo, *repo.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        with running(repo, reload_interval_s=0) as srv, httpx.Client(base_url=srv.url) as client:
            assert client.get("/v2/health/ready").status_code == 200
            assert client.post("/v1/models/tshirt/predict", json=ROW).status_code == 200
    finally:
        for path in [repo, *repo.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def test_partly_unreadable_models_are_reported_one_by_one(repo: Path) -> None:
    broken = repo / "mnist" / "2"
    broken.mkdir()
    (broken / "manifest.json").mkdir()  # a folder where a file should be: cannot be read
    (broken / "model.onnx").symlink_to(repo / "nowhere.onnx")
    with running(repo, reload_interval_s=0) as srv, httpx.Client(base_url=srv.url) as client:
        state = version_state(client, "mnist", 2)
        assert state["state"] == "failed" and "cannot read manifest.json" in str(state["reason"])
        assert client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "1"
        assert client.get("/v2/health/ready").status_code == 200


def test_nothing_outside_the_repository_is_opened_for_hostile_names(
    live: RunningServer, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touched: list[str] = []
    real_scandir, real_open, real_os_open = os.scandir, open, os.open

    def spy_scandir(path: object = ".") -> object:
        if isinstance(path, str | bytes | os.PathLike):  # not a file descriptor
            touched.append(os.path.realpath(os.fsdecode(path)))
        return real_scandir(path)  # type: ignore[arg-type]

    def spy_open(file: object, *args: object, **kwargs: object) -> object:
        if isinstance(file, str | bytes | os.PathLike):  # not a file descriptor
            touched.append(os.path.realpath(os.fsdecode(file)))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    def spy_os_open(file: object, *args: object, **kwargs: object) -> object:
        if isinstance(file, str | bytes | os.PathLike):
            touched.append(os.path.realpath(os.fsdecode(file)))
        return real_os_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "scandir", spy_scandir)
    monkeypatch.setattr("builtins.open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    from tests.servers import raw_request

    for name in ("..", "%2e%2e", "..%2F..%2Fetc", "%2Fetc", "a%00b"):
        for target in (f"/v2/repository/models/{name}/load", f"/v2/models/{name}/infer"):
            status, _ = raw_request(live.port, "POST", target, b"{}")
            assert status in (400, 401, 404)
        raw_request(live.port, "POST", f"/v2/repository/models/{name}/load", b"")
    root = os.path.realpath(repo)
    assert all(p.startswith(root) or "site-packages" in p or "/proc" in p for p in touched), [
        p for p in touched if not p.startswith(root)
    ]
