"""The model lifecycle against a real server process: a promotion gate that holds a worse
version back as a candidate, promote, pin and unpin through the API and the CLI, a canary's
share of traffic, and Triton's version policy in a hot-reloaded serving.json."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.builders import image_manifest, publish, random_mlp, standard_repository
from tests.servers import running_process, wait_until

TOKEN = "a-control-token-of-some-length"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PIXELS = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [2] * 784}]}
GATE = {"version_policy": {"all": {}}, "gate": {"metric": "accuracy", "tolerance": 0.005}}


def publish_mnist(repo: Path, version: int, accuracy: float) -> None:
    manifest = image_manifest("mnist", version) | {"metrics": {"accuracy": accuracy}}
    publish(repo, random_mlp(version), manifest)


def configure(repo: Path, config: object) -> None:
    (repo / "mnist" / "serving.json").write_text(json.dumps(config))


def served(client: httpx.Client, path: str = "/v2/models/mnist/infer") -> str:
    r = client.post(path, json=PIXELS)
    assert r.status_code == 200, r.text
    return str(r.json()["model_version"])


def answering(client: httpx.Client) -> str | None:
    """The version answering a request without one, or None while none does."""
    r = client.post("/v2/models/mnist/infer", json=PIXELS)
    return str(r.json()["model_version"]) if r.status_code == 200 else None


def versions(client: httpx.Client) -> dict[int, dict[str, object]]:
    return {v["version"]: v for v in client.get("/v1/models/mnist").json()["versions"]}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    publish_mnist(root, 1, 0.921)
    standard_repository(tmp_path / "others")
    (tmp_path / "others" / "tshirt").rename(root / "tshirt")
    return root


def test_a_worse_version_is_held_back_as_a_candidate_and_promoted_by_hand(repo: Path) -> None:
    configure(repo, GATE)
    with (
        running_process(repo, reload_interval_s="0.2", control_token=TOKEN) as srv,
        httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as client,
    ):
        publish_mnist(repo, 2, 0.874)  # a 3-epoch experiment
        wait_until(lambda: versions(client).get(2, {}).get("state") == "ready")
        v2 = versions(client)[2]
        assert v2["role"] == "candidate", v2
        assert "accuracy 0.874 < 0.921 - 0.005 (version 1)" in str(v2["role_reason"])
        assert {served(client) for _ in range(20)} == {"1"}
        assert served(client, "/v2/models/mnist/versions/2/infer") == "2"  # addressable
        detail = client.get("/v1/models/mnist").json()
        assert detail["serving_version"] == 1 and detail["serving"]["gate"]["metric"] == "accuracy"
        metadata = client.get("/v2/models/mnist").json()
        assert metadata["versions"] == ["1", "2"] and metadata["serving"]["default_version"] == 1
        metrics = client.get("/metrics").text
        assert 'logitserve_model_version_role{model="mnist",role="candidate",version="2"} 1.0' in (
            metrics
        )
        assert "version held back as a candidate" in srv.log_text()

        r = client.post("/v2/repository/models/mnist/versions/2/promote")
        assert r.status_code == 200 and r.json()["serving_version"] == 2, r.text
        assert {served(client) for _ in range(10)} == {"2"}
        assert '"default version"' in srv.log_text() or "default version" in srv.log_text()

        publish_mnist(repo, 3, 0.80)  # worse than the promoted version 2: a candidate
        wait_until(lambda: versions(client).get(3, {}).get("role") == "candidate")
        publish_mnist(repo, 4, 0.95)  # better: takes over by itself
        wait_until(lambda: answering(client) == "4")
        assert "accuracy 0.95 >= 0.874" in str(versions(client)[4]["role_reason"])

        assert client.post("/v2/repository/models/mnist/versions/1/pin").status_code == 200
        assert {served(client) for _ in range(10)} == {"1"}
        assert client.post("/v2/repository/models/mnist/unpin").status_code == 200
        assert served(client) == "4"
        for path in ("/v2/repository/models/mnist/versions/9/pin", "/v2/repository/models/x/unpin"):
            assert client.post(path).status_code == 404
        assert httpx.post(srv.url + "/v2/repository/models/mnist/unpin").status_code == 401


def test_the_cli_promotes_pins_and_unloads_through_the_repository(repo: Path) -> None:
    configure(repo, GATE)
    publish_mnist(repo, 2, 0.5)
    with (
        running_process(repo, reload_interval_s="0.2") as srv,
        httpx.Client(base_url=srv.url, timeout=10) as client,
    ):
        assert served(client) == "1" and versions(client)[2]["role"] == "candidate"

        def cli(*args: str) -> str:
            run = subprocess.run(
                [sys.executable, "-m", "service", *args, "--models-dir", str(repo)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 0, run.stderr
            return run.stdout

        assert "promote version 2" in cli("promote", "mnist", "2")
        wait_until(lambda: answering(client) == "2")
        cli("pin", "mnist", "1")
        wait_until(lambda: answering(client) == "1")
        cli("unpin", "mnist")
        wait_until(lambda: answering(client) == "2")
        cli("unload", "mnist")
        wait_until(lambda: client.post("/v2/models/mnist/infer", json=PIXELS).status_code == 503)
        assert client.get("/v2/health/ready").status_code == 200  # tshirt serves
        cli("load", "mnist")
        wait_until(lambda: answering(client) == "2")
        bad = subprocess.run(
            [sys.executable, "-m", "service", "pin", "mnist", "7", "--models-dir", str(repo)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode == 1 and "has no version 7" in bad.stderr


def test_a_canary_takes_its_share_of_requests_without_a_version(repo: Path) -> None:
    configure(repo, GATE)
    publish_mnist(repo, 2, 0.874)
    n, weight = 2000, 10.0
    with (
        running_process(repo, reload_interval_s="0.2", control_token=TOKEN) as srv,
        httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as client,
    ):
        r = client.post("/v2/repository/models/mnist/versions/2/canary", json={"weight": weight})
        assert r.status_code == 200 and r.json()["canary"] == {"version": 2, "weight": 10.0}
        seen = Counter(served(client) for _ in range(n))
        # The share is binomial(n, 0.1): 4.5 standard deviations either side fails about once
        # in 150,000 runs by chance, while a broken split (0 %, 50 %) cannot pass.
        mean, sd = n * weight / 100, math.sqrt(n * 0.1 * 0.9)
        assert set(seen) == {"1", "2"}, seen
        assert abs(seen["2"] - mean) < 4.5 * sd, seen
        metrics = client.get("/metrics").text
        by_version = {
            v: sum(
                float(x)
                for x in re.findall(rf'model="mnist",status="200",version="{v}"\}} (\S+)', metrics)
            )
            for v in ("1", "2")
        }
        assert by_version["2"] >= seen["2"] and by_version["1"] >= seen["1"], by_version
        assert 'logitserve_canary_share{model="mnist",version="2"} 0.1' in metrics

        r = client.post("/v2/repository/models/mnist/versions/2/canary", json={"weight": 0})
        assert r.status_code == 200 and r.json()["canary"] is None
        assert {served(client) for _ in range(50)} == {"1"}
        bad = client.post("/v2/repository/models/mnist/versions/2/canary", json={"weight": 101})
        assert bad.status_code == 400 and "0 to 100" in bad.json()["error"]
        r = client.post("/v2/repository/models/mnist/versions/2/canary", json={"weight": 100})
        assert r.status_code == 200 and r.json()["serving_version"] == 2  # promoted
        assert {served(client) for _ in range(20)} == {"2"}


def test_metadata_and_config_describe_the_default_version_never_a_canary_draw(
    repo: Path,
) -> None:
    configure(repo, GATE)
    # A candidate with another input shape, so that which version is described shows.
    manifest = image_manifest("mnist", 2, flat=False) | {"metrics": {"accuracy": 0.874}}
    publish(repo, random_mlp(2, row_shape=(28, 28)), manifest)
    with (
        running_process(repo, reload_interval_s="0.2", control_token=TOKEN) as srv,
        httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as client,
    ):
        r = client.post("/v2/repository/models/mnist/versions/2/canary", json={"weight": 50})
        assert r.status_code == 200, r.text
        shapes = {
            tuple(client.get("/v2/models/mnist").json()["inputs"][0]["shape"]) for _ in range(30)
        }
        configs = [client.get("/v2/models/mnist/config").json() for _ in range(30)]
        assert shapes == {(-1, 784)}
        assert {tuple(c["input"][0]["dims"]) for c in configs} == {(784,)}
        assert configs[0]["version_policy"] == {"all": {}}  # serving.json's policy
        v2 = client.get("/v2/models/mnist/versions/2/config").json()
        assert v2["input"][0]["dims"] == [28, 28]


def test_the_version_policy_decides_what_loads_and_is_hot_reloaded(repo: Path) -> None:
    for version in (2, 3):
        publish_mnist(repo, version, 0.9)
    configure(repo, {})  # a config without a policy: Triton's default, the latest 1
    with (
        running_process(repo, reload_interval_s="0.2") as srv,
        httpx.Client(base_url=srv.url, timeout=10) as client,
    ):
        states = versions(client)
        assert [states[v]["state"] for v in (1, 2, 3)] == ["unloaded", "unloaded", "ready"]
        assert "outside the version policy (latest 1)" in str(states[1]["reason"])
        assert served(client) == "3"
        r = client.post("/v2/models/mnist/versions/1/infer", json=PIXELS)
        assert r.status_code == 503 and "version policy" in r.json()["error"]
        assert client.get("/v2/models/mnist").json()["versions"] == ["3"]
        policy = client.get("/v2/models/mnist/config").json()["version_policy"]
        assert policy == {"latest": {"num_versions": 1}}

        configure(repo, {"version_policy": {"specific": {"versions": [1, 3]}}, "default": 1})
        wait_until(lambda: answering(client) == "1")
        assert client.get("/v2/models/mnist").json()["versions"] == ["1", "3"]
        config = client.get("/v2/models/mnist/config").json()
        assert config["version_policy"] == {"specific": {"versions": [1, 3]}}
        assert served(client, "/v2/models/mnist/versions/3/infer") == "3"

        configure(repo, {"version_policy": {"latest": {"num_versions": 0}}})  # invalid
        problem = wait_until(lambda: client.get("/v1/models/mnist").json()["serving"]["problem"])
        assert "invalid serving.json: version_policy.latest.num_versions" in problem
        assert served(client) == "1"  # the last valid config stays in force

        configure(repo, {"version_policy": {"all": {}}})
        wait_until(lambda: client.get("/v2/models/mnist").json()["versions"] == ["1", "2", "3"])
        assert served(client) == "3"


def test_a_model_whose_serving_config_is_invalid_at_start_is_not_loaded(repo: Path) -> None:
    configure(repo, {"version_policy": {"latest": {}, "all": {}}})
    with (
        running_process(repo, reload_interval_s="0.2") as srv,
        httpx.Client(base_url=srv.url, timeout=10) as client,
    ):
        r = client.post("/v2/models/mnist/infer", json=PIXELS)
        assert r.status_code == 503, r.text
        assert "invalid serving.json: version_policy: give exactly one of" in r.json()["error"]
        assert client.get("/v2/health/ready").status_code == 200  # tshirt serves
        configure(repo, {"version_policy": {"all": {}}})
        wait_until(lambda: client.post("/v2/models/mnist/infer", json=PIXELS).status_code == 200)


def test_under_a_gate_a_serving_version_whose_manifest_breaks_serves_on(repo: Path) -> None:
    configure(repo, GATE)
    publish_mnist(repo, 2, 0.95)
    with (
        running_process(repo, reload_interval_s="0.2") as srv,
        httpx.Client(base_url=srv.url, timeout=10) as client,
    ):
        assert served(client) == "2"
        (repo / "mnist" / "2" / "manifest.json").write_text("{half a manifest")
        wait_until(lambda: "on disk" in str(versions(client)[2]["reason"]))
        time.sleep(0.5)  # rescans: the default stays
        assert {served(client) for _ in range(10)} == {"2"}
        assert versions(client)[2]["role"] == "default"
