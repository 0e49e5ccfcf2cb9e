"""Hot reload: new versions serve within seconds with no failed request, broken versions
never evict the serving one, removed versions are unloaded and their memory released."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import os
import shutil
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.builders import image_manifest, publish, random_mlp, standard_repository
from tests.servers import RunningServer, Traffic, running, wait_until

PIXELS = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [7] * 784}]}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return standard_repository(tmp_path / "models")


@pytest.fixture
def live(repo: Path) -> Iterator[RunningServer]:
    with running(repo, reload_interval_s=0.1) as srv:
        yield srv


def test_a_new_version_serves_within_seconds_under_load_with_no_failures(
    live: RunningServer, repo: Path
) -> None:
    with (
        Traffic(live.url, "/v2/models/mnist/infer", PIXELS) as load,
        httpx.Client(base_url=live.url) as client,
    ):
        wait_until(lambda: load.statuses[200] > 20)
        publish(repo, random_mlp(42), image_manifest("mnist", 2))
        wait_until(
            lambda: (
                client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "2"
            ),
            timeout=5,
        )
        wait_until(lambda: load.versions["2"] > 20)
    assert set(load.statuses) == {200}, load.statuses
    assert load.versions["1"] > 0 and load.versions["2"] > 0


def test_a_broken_new_version_never_evicts_the_serving_one(live: RunningServer, repo: Path) -> None:
    folder = publish(repo, random_mlp(5), image_manifest("mnist", 2))
    with httpx.Client(base_url=live.url) as client:
        wait_until(lambda: client.get("/v2/models/mnist").json()["versions"] == ["1", "2"])
        # Version 3's file does not match its manifest's sha256.
        bad = publish(repo, random_mlp(6), image_manifest("mnist", 3))
        (bad / "model.onnx").write_bytes((folder / "model.onnx").read_bytes()[:-10])
        detail = wait_until(lambda: _version(client, 3))
        assert detail["state"] == "failed" and "sha256" in detail["reason"]
        assert client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "2"
        r = client.get("/v2/models/mnist/versions/3/ready")
        assert r.status_code == 503 and "sha256" in r.json()["error"]
        assert client.post("/v2/models/mnist/versions/3/infer", json=PIXELS).status_code == 503


def _version(client: httpx.Client, number: int) -> dict[str, object] | None:
    for v in client.get("/v1/models/mnist").json()["versions"]:
        if v["version"] == number:
            return v
    return None


def test_a_removed_version_is_unloaded_and_the_model_falls_back(
    live: RunningServer, repo: Path
) -> None:
    publish(repo, random_mlp(7), image_manifest("mnist", 2))
    with httpx.Client(base_url=live.url) as client:
        wait_until(lambda: client.get("/v2/models/mnist").json()["versions"] == ["1", "2"])
        shutil.rmtree(repo / "mnist" / "2")
        wait_until(lambda: client.get("/v2/models/mnist").json()["versions"] == ["1"])
        assert client.post("/v2/models/mnist/versions/2/infer", json=PIXELS).status_code == 404
        assert client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "1"
        shutil.rmtree(repo / "mnist")
        wait_until(lambda: client.get("/v2/models/mnist").status_code == 404)
        assert (
            client.post("/v1/models/tshirt/predict", json={"instances": [[1, 2, 3, 4]]}).status_code
            == 200
        )


def test_requests_in_flight_finish_on_their_version_and_memory_is_released(
    live: RunningServer, repo: Path
) -> None:
    registry = live.services.registry
    held = registry.resolve("mnist", None)
    session_ref = weakref.ref(held.session)
    shutil.rmtree(repo / "mnist")
    with httpx.Client(base_url=live.url) as client:
        wait_until(lambda: client.get("/v2/models/mnist").status_code == 404)
    # The version is gone from the registry, but a request holding it still completes.
    rows = np.zeros((1, 784), np.uint8)
    result = asyncio.run_coroutine_threadsafe(held.infer(rows), live.loop).result(5)
    logits, probabilities = result.outputs
    assert logits.shape == probabilities.shape == (1, 10)
    del held, result
    # The event loop's thread lets go of the finished call a moment after the result
    # arrives here; a leak would keep the session for good.
    wait_until(lambda: gc.collect() >= 0 and session_ref() is None, timeout=5)


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (lambda v: (v / "manifest.json").unlink(), "manifest.json is missing"),
        (lambda v: (v / "manifest.json").write_text("{not json"), "not JSON"),
        (lambda v: (v / "model.onnx").write_bytes(b"half a model"), "sha256"),
        (lambda v: _rewrite_manifest(v, input={"name": "x"}), "input"),
        (lambda v: _random_bytes_with_matching_sha(v), "cannot load"),
        (lambda v: _rewrite_manifest(v, version=9), "folder is mnist/2"),
        (lambda v: _graph_disagrees(v), "disagrees"),
    ],
    ids=[
        "no-manifest",
        "bad-json",
        "half-written",
        "bad-manifest",
        "random-bytes",
        "wrong-version",
        "shape",
    ],
)
def test_a_broken_version_is_not_ready_with_the_reason(
    live: RunningServer, repo: Path, breakage: object, reason: str
) -> None:
    version = publish(repo, random_mlp(8), image_manifest("mnist", 2))
    breakage(version)  # type: ignore[operator]
    os.utime(version, None)
    with httpx.Client(base_url=live.url) as client:
        detail = wait_until(
            lambda: (_version(client, 2) or {}).get("state") == "failed" and _version(client, 2)
        )
        assert reason in str(detail["reason"]), detail
        time.sleep(0.35)  # three more rescans: the reason stays
        assert reason in str((_version(client, 2) or {}).get("reason"))
        assert client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "1"
        ready = client.get("/v2/health/ready")
        assert ready.status_code == 200  # the model still serves (version 1)


def _rewrite_manifest(folder: Path, **changes: object) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    for key, value in changes.items():
        manifest[key] = {**manifest[key], **value} if isinstance(value, dict) else value
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _random_bytes_with_matching_sha(version: Path) -> None:
    import hashlib

    data = os.urandom(4096)
    (version / "model.onnx").write_bytes(data)
    _rewrite_manifest(version, model_sha256=hashlib.sha256(data).hexdigest())


def _graph_disagrees(version: Path) -> None:
    import hashlib

    data = random_mlp(9, classes=7).SerializeToString()  # 7 logits, manifest says 10
    (version / "model.onnx").write_bytes(data)
    _rewrite_manifest(version, model_sha256=hashlib.sha256(data).hexdigest())


def test_a_model_with_no_ready_version_is_reported_and_the_server_stays_ready(
    live: RunningServer, repo: Path
) -> None:
    folder = repo / "broken" / "1"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    with httpx.Client(base_url=live.url) as client:
        r = wait_until(
            lambda: (x := client.get("/v2/models/broken/ready")).status_code == 503 and x
        )
        assert "broken" in r.json()["error"]
        assert client.get("/v2/health/ready").status_code == 200
        assert (
            client.post("/v1/models/tshirt/predict", json={"instances": [[1, 2, 3, 4]]}).status_code
            == 200
        )
        metrics = client.get("/metrics").text
        assert 'logitserve_model_serving{model="broken"} 0.0' in metrics
        assert 'logitserve_model_serving{model="tshirt"} 1.0' in metrics


def test_with_strict_readiness_a_model_with_no_ready_version_makes_the_server_not_ready(
    repo: Path,
) -> None:
    folder = repo / "broken" / "1"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    with (
        running(repo, reload_interval_s=0.1, strict_readiness=True) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        r = client.get("/v2/health/ready")
        assert r.status_code == 503 and "broken" in r.json()["error"]
        shutil.rmtree(repo / "broken")
        wait_until(lambda: client.get("/v2/health/ready").status_code == 200)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda v: (v / "model.onnx").write_bytes(b"not a model"), id="overwritten"),
        pytest.param(lambda v: (v / "manifest.json").unlink(), id="half-deleted"),
    ],
)
def test_a_serving_version_whose_files_break_serves_on_from_memory_until_removed(
    live: RunningServer, repo: Path, damage: object
) -> None:
    version = repo / "mnist" / "1"
    with httpx.Client(base_url=live.url) as client:
        damage(version)  # type: ignore[operator]
        os.utime(version, None)
        wait_until(lambda: "on disk" in str((_version(client, 1) or {}).get("reason")))
        assert (_version(client, 1) or {})["state"] == "ready"
        served = client.post("/v2/models/mnist/infer", json=PIXELS)
        assert served.status_code == 200 and served.json()["model_version"] == "1"
        shutil.rmtree(version)
        wait_until(lambda: client.get("/v2/models/mnist/versions/1/ready").status_code == 404)


def test_a_repaired_version_loads_again(live: RunningServer, repo: Path) -> None:
    version = repo / "mnist" / "1"
    with httpx.Client(base_url=live.url) as client:
        (version / "model.onnx").write_bytes(b"not a model")
        os.utime(version, None)
        wait_until(lambda: "on disk" in str((_version(client, 1) or {}).get("reason")))
        data = random_mlp(12).SerializeToString()
        manifest = image_manifest("mnist", 1) | {"model_sha256": hashlib.sha256(data).hexdigest()}
        (version / "model.onnx").write_bytes(data)
        (version / "manifest.json").write_text(json.dumps(manifest))
        os.utime(version, None)
        wait_until(lambda: (_version(client, 1) or {}).get("reason") is None)
        assert client.post("/v2/models/mnist/infer", json=PIXELS).status_code == 200


NESTED = b"[" * 40_000  # 40 KB, under the 64 KiB limit of serving.json and control.json
TOKEN = "a-control-token-of-some-length"


def test_nested_json_files_refuse_their_model_alone_and_start_rescan_and_control_go_on(
    repo: Path,
) -> None:
    (repo / "mnist-cnn" / "serving.json").write_bytes(NESTED)
    (repo / "multilabel" / "control.json").write_bytes(NESTED)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    # The server starts with both files present (the RecursionError once stopped it).
    with (
        running(repo, reload_interval_s=0.1, control_token=TOKEN) as srv,
        httpx.Client(base_url=srv.url, timeout=10) as client,
    ):
        for model, file in (("mnist-cnn", "serving.json"), ("multilabel", "control.json")):
            r = client.get(f"/v2/models/{model}/ready")
            assert r.status_code == 503, r.text
            assert f"invalid {file}: not JSON: recursion limit" in r.json()["error"]
        assert client.post("/v2/models/mnist/infer", json=PIXELS).status_code == 200
        # Rescans go on: a new version elsewhere serves.
        publish(repo, random_mlp(42), image_manifest("mnist", 2))
        wait_until(
            lambda: (
                client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "2"
            )
        )
        # promote replaces the broken control.json (it was a 500).
        r = client.post("/v2/repository/models/multilabel/versions/1/promote", headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["serving_version"] == 1
        # A nested manifest fails its version, with the reason, through a load too (a 500).
        bad = publish(repo, random_mlp(43), image_manifest("mnist", 3))
        (bad / "manifest.json").write_bytes(NESTED)
        r = client.post("/v2/repository/models/mnist/load", headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2
        reason = str((_version(client, 3) or {}).get("reason"))
        assert reason.startswith("invalid manifest.json: not JSON: recursion limit"), reason
