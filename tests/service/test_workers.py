"""Several worker processes (`--workers 2`) agree: a control action recorded in the
repository reaches every worker within one rescan, and /metrics, whichever worker answers it,
counts the requests of all of them."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from tests.builders import standard_repository
from tests.servers import running_process, wait_until

TOKEN = "a-control-token-of-some-length"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PIXELS = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [3] * 784}]}
RESCAN_S = 0.2


def statuses(url: str, n: int) -> list[int]:
    """n requests, each on a new connection: the kernel spreads them over the workers."""
    return [httpx.post(url + "/v2/models/mnist/infer", json=PIXELS).status_code for _ in range(n)]


def requests_counted(url: str) -> float:
    text = httpx.get(url + "/metrics").text
    pattern = r'^logitserve_requests_total\{[^}]*model="mnist"[^}]*\} ([0-9.e+]+)$'
    return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))


def test_unload_and_load_reach_every_worker_within_one_rescan(tmp_path: Path) -> None:
    repo = standard_repository(tmp_path / "models")
    with running_process(
        repo, "--workers", "2", reload_interval_s=str(RESCAN_S), control_token=TOKEN
    ) as srv:
        wait_until(lambda: statuses(srv.url, 10) == [200] * 10, timeout=30)  # both loaded
        r = httpx.post(srv.url + "/v2/repository/models/mnist/unload", headers=AUTH)
        assert r.status_code == 200, r.text
        time.sleep(2.5 * RESCAN_S)
        assert statuses(srv.url, 40) == [503] * 40
        r = httpx.post(srv.url + "/v2/repository/models/mnist/load", headers=AUTH)
        assert r.status_code == 200, r.text
        time.sleep(2.5 * RESCAN_S)
        assert statuses(srv.url, 40) == [200] * 40


def test_metrics_count_the_requests_of_every_worker(tmp_path: Path) -> None:
    repo = standard_repository(tmp_path / "models")
    with running_process(repo, "--workers", "2", reload_interval_s="0") as srv:
        wait_until(lambda: statuses(srv.url, 4) == [200] * 4, timeout=30)
        before = requests_counted(srv.url)
        assert statuses(srv.url, 100) == [200] * 100
        counts = {requests_counted(srv.url) - before for _ in range(10)}  # any worker scrapes
        assert counts == {100}, counts
        text = httpx.get(srv.url + "/metrics").text
        assert 'logitserve_model_serving{model="mnist"} 1.0' in text
        assert "logitserve_inflight_requests" in text
