"""Warm-up refuses versions whose logits are not finite: a graph that answers NaN or inf (for
every input, or only for inputs that are not zeros) is failed with the reason, never serves,
never evicts the serving version, and readiness says what is true."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from modelrepo.manifest import Manifest
from service.repository.folders import LoadError
from service.runtime.sessions import Runtime
from tests.builders import (
    image_manifest,
    nonfinite_mlp,
    publish,
    random_mlp,
    standard_repository,
)
from tests.servers import RunningServer, running, wait_until

PIXELS = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [7] * 784}]}
KINDS = ["nan", "inf", "nan-off-zero"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return standard_repository(tmp_path / "models")


@pytest.fixture
def live(repo: Path) -> Iterator[RunningServer]:
    with running(repo, reload_interval_s=0.1) as srv:
        yield srv


def _state(client: httpx.Client, model: str, number: int) -> dict[str, object]:
    for v in client.get(f"/v1/models/{model}").json()["versions"]:
        if v["version"] == number:
            return v  # type: ignore[no-any-return]
    return {}


@pytest.mark.parametrize("kind", KINDS)
def test_a_version_with_nonfinite_logits_fails_and_the_serving_one_serves_on(
    live: RunningServer, repo: Path, kind: str
) -> None:
    publish(repo, nonfinite_mlp(kind), image_manifest("mnist", 2))
    with httpx.Client(base_url=live.url) as client:
        state = wait_until(
            lambda: _state(client, "mnist", 2).get("state") and _state(client, "mnist", 2)
        )
        assert state["state"] == "failed", state
        assert "not finite" in str(state["reason"]), state
        for _ in range(20):
            r = client.post("/v2/models/mnist/infer", json=PIXELS)
            assert r.status_code == 200 and r.json()["model_version"] == "1", r.text
        assert client.get("/v2/health/ready").status_code == 200  # version 1 really serves
        assert client.get("/v2/models/mnist/ready").status_code == 200
        r = client.get("/v2/models/mnist/versions/2/ready")
        assert r.status_code == 503 and "not finite" in r.json()["error"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_model_whose_only_version_has_nonfinite_logits_is_not_ready(
    tmp_path: Path, kind: str
) -> None:
    repo = standard_repository(tmp_path / "models")
    publish(repo, nonfinite_mlp(kind), image_manifest("poisoned", 1))
    with (
        running(repo, reload_interval_s=0, strict_readiness=True) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        ready = client.get("/v2/health/ready")
        assert ready.status_code == 503 and "poisoned" in ready.json()["error"]
        assert "not finite" in ready.json()["error"]
        model_ready = client.get("/v2/models/poisoned/ready")
        assert model_ready.status_code == 503 and "not finite" in model_ready.json()["error"]
        r = client.post("/v2/models/poisoned/infer", json=PIXELS)
        assert r.status_code == 503 and "not finite" in r.json()["error"]
        assert client.post("/v2/models/mnist/infer", json=PIXELS).status_code == 200


def test_warm_up_tries_zeros_the_top_of_the_range_and_random_rows() -> None:
    """The check names the input it failed on, so a user can reproduce it."""
    manifest = Manifest.model_validate({**image_manifest("mnist", 1), "model_sha256": "0" * 64})
    runtime = Runtime(["CPUExecutionProvider"], 1)
    with pytest.raises(LoadError, match="not finite.*zeros"):
        runtime.create(nonfinite_mlp("nan").SerializeToString(), manifest)
    with pytest.raises(LoadError, match="not finite.*255"):
        runtime.create(nonfinite_mlp("nan-off-zero").SerializeToString(), manifest)
    session = runtime.create(random_mlp(0).SerializeToString(), manifest)
    assert np.isfinite(session.run(np.full((3, 784), 255, np.uint8))).all()
