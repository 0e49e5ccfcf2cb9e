"""Failed versions are tried again: after a backoff by themselves (a transient "Permission
denied" that `chmod 644` repairs changes neither inode, size nor mtime), and at once on an
explicit load through the repository API."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.builders import image_manifest, publish, random_mlp, standard_repository
from tests.servers import bound_by_file_modes, running_process, wait_until

PIXELS = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [5] * 784}]}
TOKEN = "a-control-token-of-some-length"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return standard_repository(tmp_path / "models")


def publish_unreadable(repo: Path, version: int) -> Path:
    """A valid version whose model.onnx nobody but root may read, renamed into place."""
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=repo / "mnist"))
    folder = publish(staging, random_mlp(version), image_manifest("mnist", version))
    (folder / "model.onnx").chmod(0o000)
    target = repo / "mnist" / str(version)
    os.rename(folder, target)
    shutil.rmtree(staging)
    return target / "model.onnx"


def state_of(client: httpx.Client, number: int) -> dict[str, object]:
    for v in client.get("/v1/models/mnist").json()["versions"]:
        if v["version"] == number:
            return v  # type: ignore[no-any-return]
    return {}


def served(client: httpx.Client) -> str:
    return str(client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"])


def test_a_version_that_failed_on_permissions_loads_once_they_are_fixed(
    repo: Path,
) -> None:
    with (
        running_process(repo, prefix=bound_by_file_modes(), reload_interval_s="0.2") as srv,
        httpx.Client(base_url=srv.url, timeout=10) as client,
    ):
        model_file = publish_unreadable(repo, 2)
        wait_until(lambda: state_of(client, 2).get("state") == "failed")
        assert "Permission denied" in str(state_of(client, 2)["reason"])
        before = os.stat(model_file)
        model_file.chmod(0o644)
        after = os.stat(model_file)
        assert (before.st_ino, before.st_size, before.st_mtime_ns) == (
            after.st_ino,
            after.st_size,
            after.st_mtime_ns,
        )
        wait_until(lambda: served(client) == "2", timeout=20)
        assert state_of(client, 2)["state"] == "ready"


def test_an_explicit_load_tries_a_failed_version_again_at_once(repo: Path) -> None:
    model_file = publish_unreadable(repo, 2)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with (
        running_process(
            repo, prefix=bound_by_file_modes(), reload_interval_s="0", control_token=TOKEN
        ) as srv,
        httpx.Client(base_url=srv.url, timeout=10, headers=auth) as client,
    ):
        assert state_of(client, 2)["state"] == "failed"
        assert served(client) == "1"
        model_file.chmod(0o644)
        r = client.post("/v2/repository/models/mnist/load")
        assert r.status_code == 200 and r.json()["version"] == 2, r.text
        assert served(client) == "2"
