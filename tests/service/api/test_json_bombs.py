"""Bodies built to cost the most per byte: every one is answered (refused, or served when it
is a real request), while health checks keep answering within 100 ms, the server's CPU stays
linear in the body (at most 100 ms per MB) and its memory within a few times the body.

Measured on a server in its own process (`python -m service`), from outside: its CPU time and
high-water memory from /proc, the health checks' latency from a thread polling all along."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import ServerProcess, running_process

# Latency and memory under load: alone, after the rest (make test).
pytestmark = pytest.mark.serial

MB = 1_000_000
ROW = ",".join(["0.5"] * 784)


def instances(item: bytes, count: int) -> bytes:
    return b'{"instances":[' + b",".join([item] * count) + b"]}"


BOMBS = {
    # The issue's: tiny arrays, plain and gzipped (7.6 KB on the wire), and larger.
    "300k tiny objects, gzip": (instances(b'{"data":[1]}', 300_000), True),
    "300k tiny objects": (instances(b'{"data":[1]}', 300_000), False),
    "1M tiny objects": (instances(b'{"data":[1]}', 1_000_000), False),
    # Worst shapes under the JSON limit: many small arrays, long numbers, deep nesting.
    "many small arrays": (instances(b"[1]", 500_000), False),
    "long numbers": (instances(b"[" + b",".join([b"9" * 400] * 784) + b"]", 6), False),
    "deep nesting": (b'{"instances":' + b"[" * 100_000 + b"]" * 100_000 + b"}", False),
    # The costliest real request: fractional pixels, as many as fit under the JSON limit.
    "float pixels": (instances(b"[" + ROW.encode() + b"]", 600), False),
}


@pytest.fixture(scope="module")
def server(repository: Path) -> Iterator[ServerProcess]:
    with running_process(repository, "--reload-interval-s", "0", "--no-access-log") as srv:
        yield srv


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def high_water_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


@contextmanager
def health_polled(url: str) -> Iterator[list[float]]:
    """Latencies of GET /v2/health/live, one every 10 ms while the block runs."""
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=url, timeout=5) as client:
            while not stop.is_set():
                started = time.perf_counter()
                assert client.get("/v2/health/live").status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.01)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield latencies
    finally:
        stop.set()
        thread.join(timeout=10)


def send(server: ServerProcess, body: bytes, gzipped: bool) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if gzipped:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    return httpx.post(
        f"{server.url}/v1/models/mnist/predict", content=body, headers=headers, timeout=60
    )


@pytest.mark.parametrize("name", list(BOMBS))
def test_bombs_cost_time_and_memory_linear_in_their_size(server: ServerProcess, name: str) -> None:
    body, gzipped = BOMBS[name]
    pid = server.process.pid
    for _ in range(2):  # warm: the first request of a kind pays for lazy imports and buffers
        send(server, body, gzipped)
    memory_before = high_water_mb(pid)
    cpu_before = cpu_seconds(pid)
    response = send(server, body, gzipped)
    cpu = cpu_seconds(pid) - cpu_before
    grown = high_water_mb(pid) - memory_before
    assert response.status_code in (200, 400, 413), response.text
    if response.status_code != 200:
        assert response.json()["error"]
    megabytes = len(body) / MB
    assert cpu <= 0.05 + 0.1 * megabytes, f"{cpu:.2f} s of CPU for {megabytes:.1f} MB"
    assert grown <= 3 * megabytes + 5, f"memory grew {grown:.0f} MB for {megabytes:.1f} MB"


def test_health_checks_answer_within_100_ms_while_bombs_arrive(server: ServerProcess) -> None:
    with health_polled(server.url) as latencies:
        time.sleep(0.2)
        for body, gzipped in BOMBS.values():
            assert send(server, body, gzipped).status_code in (200, 400, 413)
        time.sleep(0.2)
    assert len(latencies) > 20
    assert max(latencies) < 0.1, f"slowest health check {max(latencies) * 1000:.0f} ms"
