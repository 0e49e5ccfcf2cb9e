"""Triton's model repository extension: off without a token; with one, index, load and
unload by name only, each call needing the token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from tests.builders import image_manifest, publish, random_mlp, standard_repository
from tests.servers import RunningServer, running

TOKEN = "a-control-token-of-some-length"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return standard_repository(tmp_path / "models")


@pytest.fixture
def controlled(repo: Path) -> Iterator[RunningServer]:
    with running(repo, reload_interval_s=0, control_token=TOKEN) as srv:
        yield srv


def test_control_routes_are_off_without_a_token(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        for path in ("/v2/repository/index", "/v2/repository/models/mnist/unload"):
            r = client.post(path, headers=AUTH)
            assert r.status_code == 403 and "off" in r.json()["error"]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}]
)
def test_missing_or_wrong_token_is_401(controlled: RunningServer, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=controlled.url) as client:
        r = client.post("/v2/repository/models/mnist/unload", headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert client.post("/v2/models/mnist/infer", json=_pixels()).status_code == 200


def _pixels() -> dict[str, object]:
    return {
        "inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [0] * 784}]
    }


def test_index_unload_and_load(controlled: RunningServer, repo: Path) -> None:
    with httpx.Client(base_url=controlled.url, headers=AUTH) as client:
        index = client.post("/v2/repository/index").json()
        assert {"name": "mnist", "version": "1", "state": "READY", "reason": ""} in index
        assert client.post("/v2/repository/models/mnist/unload").status_code == 200
        r = client.post("/v2/models/mnist/infer", json=_pixels())
        assert r.status_code == 503 and "unloaded" in r.json()["error"]
        assert client.get("/v2/models/mnist/ready").status_code == 503
        assert client.get("/v2/health/ready").status_code == 200  # the others serve on
        publish(repo, random_mlp(3), image_manifest("mnist", 2))  # appears while unloaded
        r = client.post("/v2/repository/models/mnist/load")
        assert r.status_code == 200 and r.json()["version"] == 2
        assert client.post("/v2/models/mnist/infer", json=_pixels()).json()["model_version"] == "2"
        ready_only = client.post("/v2/repository/index", json={"ready": True}).json()
        assert all(e["state"] == "READY" for e in ready_only)


def test_load_takes_names_only(controlled: RunningServer) -> None:
    with httpx.Client(base_url=controlled.url, headers=AUTH) as client:
        r = client.post("/v2/repository/models/mnist/load", json={"parameters": {"config": "{}"}})
        assert r.status_code == 400 and "name only" in r.json()["error"]
        assert client.post("/v2/repository/models/nope/load").status_code == 404
        assert client.post("/v2/repository/models/..%2F..%2Fetc/load").status_code in (400, 404)
        assert client.post("/v2/repository/models/a:b/load").status_code == 400


def test_tritonclient_model_control(controlled: RunningServer) -> None:
    triton = httpclient.InferenceServerClient(url=f"127.0.0.1:{controlled.port}")
    try:
        triton.unload_model("tshirt", headers=AUTH)
        assert not triton.is_model_ready("tshirt")
        triton.load_model("tshirt", headers=AUTH)
        assert triton.is_model_ready("tshirt")
        names = {m["name"] for m in triton.get_model_repository_index(headers=AUTH)}
        assert "tshirt" in names
        with pytest.raises(InferenceServerException):
            triton.unload_model("tshirt")  # no token
    finally:
        triton.close()


def test_on_a_repository_the_service_cannot_write_actions_are_refused_saying_why(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deployments mount the repository read-only: an action that cannot be recorded where
    every worker and replica reads it is refused (403); a load still retries here."""
    from modelrepo import control_state

    def read_only(*args: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(control_state, "write", read_only)
    with (
        running(repo, reload_interval_s=0, control_token=TOKEN) as srv,
        httpx.Client(base_url=srv.url, headers=AUTH) as client,
    ):
        r = client.post("/v2/repository/models/mnist/unload")
        assert r.status_code == 403 and "Read-only file system" in r.json()["error"], r.text
        assert client.post("/v2/models/mnist/infer", json=_pixels()).status_code == 200
        r = client.post("/v2/repository/models/mnist/versions/1/pin")
        assert r.status_code == 403
        assert client.post("/v2/repository/models/mnist/load").status_code == 200
