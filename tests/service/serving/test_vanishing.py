"""A model or version whose folder disappears for a moment (a remount, a folder moved aside
and back) serves on from memory; one that stays gone past the grace period is unloaded."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx

from tests.builders import image_manifest, publish, random_mlp, standard_repository
from tests.servers import Traffic, running, wait_until

PIXELS = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [1] * 784}]}
ROW = {"instances": [[20, 5, 3, 7]]}


def test_a_repository_replaced_by_an_empty_one_for_two_seconds_drops_nothing(
    tmp_path: Path,
) -> None:
    repo = standard_repository(tmp_path / "models")
    with (
        running(repo, reload_interval_s=0.1) as srv,
        Traffic(srv.url, "/v2/models/mnist/infer", PIXELS) as mnist,
        Traffic(srv.url, "/v1/models/tshirt/predict", ROW, workers=2) as tshirt,
    ):
        wait_until(lambda: mnist.statuses[200] > 20)
        repo.rename(tmp_path / "elsewhere")
        repo.mkdir()  # an empty mount where the models were
        time.sleep(2)
        repo.rmdir()
        (tmp_path / "elsewhere").rename(repo)
        served = mnist.statuses[200]
        wait_until(lambda: mnist.statuses[200] > served + 20)
    assert set(mnist.statuses) == {200}, (mnist.statuses, mnist.bodies)
    assert set(tshirt.statuses) == {200}, (tshirt.statuses, tshirt.bodies)


def test_a_model_deleted_for_good_is_unloaded_after_the_grace_period(tmp_path: Path) -> None:
    repo = standard_repository(tmp_path / "models")
    with (
        running(repo, reload_interval_s=0.1, removal_grace_s=1.5) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        shutil.rmtree(repo / "mnist")
        deleted = time.monotonic()
        noticed = wait_until(
            lambda: (
                "gone" in str(client.get("/v1/models/mnist").json()["versions"][0]["reason"])
                and time.monotonic()
            )
        )
        assert client.post("/v2/models/mnist/infer", json=PIXELS).status_code == 200
        wait_until(lambda: client.get("/v2/models/mnist").status_code == 404, timeout=10)
        unloaded = time.monotonic()
        print(
            f"\nnoticed after {noticed - deleted:.2f} s, unloaded after {unloaded - deleted:.2f} s"
        )
        assert unloaded - noticed >= 1.3
        assert client.post("/v2/models/mnist/infer", json=PIXELS).status_code == 404
        assert client.post("/v1/models/tshirt/predict", json=ROW).status_code == 200


def test_a_version_deleted_for_good_serves_until_the_grace_period_ends(tmp_path: Path) -> None:
    repo = standard_repository(tmp_path / "models")
    publish(repo, random_mlp(2), image_manifest("mnist", 2))
    with (
        running(repo, reload_interval_s=0.1, removal_grace_s=1.5) as srv,
        httpx.Client(base_url=srv.url) as client,
        Traffic(srv.url, "/v2/models/mnist/infer", PIXELS) as traffic,
    ):
        wait_until(lambda: traffic.versions["2"] > 10)
        shutil.rmtree(repo / "mnist" / "2")
        deleted = time.monotonic()
        wait_until(lambda: client.get("/v2/models/mnist").json()["versions"] == ["1"], timeout=10)
        assert time.monotonic() - deleted >= 1.3
        assert client.post("/v2/models/mnist/versions/2/infer", json=PIXELS).status_code == 404
        served = traffic.versions["1"]
        wait_until(lambda: traffic.versions["1"] > served + 10)
    assert set(traffic.statuses) == {200}, traffic.statuses
