"""Load: mixed traffic at 64 connections with no error, and memory that stays flat over many
good and malformed requests. Short by default; `pytest --long-load tests/load` runs the
long form (100k requests, a minute of mixed load) whose figures go in BENCHMARKS.md."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp
import numpy as np
import pytest
from PIL import Image

from tests.builders import standard_repository
from tests.servers import ServerProcess, running_process

# Latency and memory under load: alone, after the rest (make test).
pytestmark = pytest.mark.serial

PIXELS = (np.arange(784) % 256).astype(np.uint8)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(255 - PIXELS.reshape(28, 28)).save(buffer, format="PNG")
    return buffer.getvalue()


def _requests() -> list[tuple[str, bytes, dict[str, str]]]:
    """(path, body, headers) for each kind of traffic in the mix."""
    rows = np.tile(PIXELS, (8, 1))
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "pixels",
                    "shape": [8, 784],
                    "datatype": "UINT8",
                    "parameters": {"binary_data_size": rows.nbytes},
                }
            ]
        }
    ).encode()
    v2_json = {
        "inputs": [
            {"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": PIXELS.tolist()}
        ]
    }
    png_body, png_type = _multipart(_png())
    return [
        (
            "/v2/models/mnist/infer",
            json.dumps(v2_json).encode(),
            {"Content-Type": "application/json"},
        ),
        (
            "/v2/models/mnist/infer",
            header + rows.tobytes(),
            {"Inference-Header-Content-Length": str(len(header))},
        ),
        (
            "/v1/models/tshirt/predict",
            b'{"instances": [[20, 5, 3, 7], [9, 1, 1, 2]]}',
            {"Content-Type": "application/json"},
        ),
        ("/v1/models/mnist-cnn/predict/image", png_body, {"Content-Type": png_type}),
    ]


def _multipart(png: bytes) -> tuple[bytes, str]:
    boundary = "loadtestboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="d.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    socket_errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) * 1000


async def _drive(
    url: str,
    requests: list[tuple[str, bytes, dict[str, str]]],
    *,
    connections: int,
    total: int | None = None,
    seconds: float | None = None,
) -> Tally:
    tally = Tally()
    sent = 0
    deadline = time.monotonic() + seconds if seconds else None
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(url, connector=connector) as session:

        async def worker(offset: int) -> None:
            nonlocal sent
            i = offset
            while (total is None or sent < total) and (
                deadline is None or time.monotonic() < deadline
            ):
                sent += 1
                path, body, headers = requests[i % len(requests)]
                i += 1
                started = time.perf_counter()
                try:
                    async with session.post(path, data=body, headers=headers) as response:
                        await response.read()
                        tally.statuses[response.status] += 1
                except aiohttp.ClientError:
                    tally.socket_errors += 1
                tally.latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker(i) for i in range(connections)))
    return tally


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    repo = standard_repository(tmp_path_factory.mktemp("models"))
    with running_process(repo, "--no-access-log", reload_interval_s="0") as srv:
        yield srv


def test_mixed_load_at_64_connections_has_no_errors(
    service: ServerProcess, request: pytest.FixtureRequest
) -> None:
    seconds = 60.0 if request.config.getoption("--long-load") else 5.0
    tally = asyncio.run(_drive(service.url, _requests(), connections=64, seconds=seconds))
    done = sum(tally.statuses.values())
    print(
        f"\nmixed load, 64 connections, {seconds:g} s: {done} requests ({done / seconds:,.0f}/s), "
        f"statuses {dict(tally.statuses)}, socket errors {tally.socket_errors}, "
        f"p50 {tally.percentile(50):.1f} ms, p99 {tally.percentile(99):.1f} ms"
    )
    assert done > 500
    assert set(tally.statuses) == {200}, tally.statuses
    assert tally.socket_errors == 0


def test_memory_stays_flat_over_many_good_and_malformed_requests(
    service: ServerProcess, request: pytest.FixtureRequest
) -> None:
    long = request.config.getoption("--long-load")
    good, bad = (100_000, 10_000) if long else (10_000, 2_000)
    requests = _requests()[:3]
    malformed = [
        ("/v2/models/mnist/infer", b'{"inputs": [{"name": "pixels", "data": [1, 2', {}),
        ("/v1/models/mnist/predict", b'{"instances": [[300]]}', {}),
        ("/v2/models/nope/infer", b"{}", {}),
        (
            "/v1/models/mnist/predict/image",
            b"--x\r\n\r\n--x--",
            {"Content-Type": "multipart/form-data; boundary=x"},
        ),
    ]
    asyncio.run(_drive(service.url, requests, connections=16, total=2_000))  # warm-up
    warm = service.rss_mb()
    tally = asyncio.run(_drive(service.url, requests, connections=16, total=good))
    after_good = service.rss_mb()
    errors = asyncio.run(_drive(service.url, malformed, connections=16, total=bad))
    after_bad = service.rss_mb()
    print(
        f"\nRSS: {warm:.1f} MB after warm-up, {after_good:.1f} MB after {good} requests, "
        f"{after_bad:.1f} MB after {bad} malformed ones"
    )
    assert set(tally.statuses) == {200}
    assert set(errors.statuses) <= {400, 404, 413, 415}
    assert after_good < warm * 1.05 and after_bad < warm * 1.05
