"""Limits and overload: bodies over the limit get 413 before they are read whole, compressed
bodies cannot inflate past it, too many requests in flight get 503 with Retry-After at once,
health answers while inference is saturated, and an ONNX Runtime failure is a clean 500."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from service.runtime.sessions import Session
from tests.builders import standard_repository
from tests.servers import RunningServer, assert_still_serving, running

ROW = [1.0, 2.0, 3.0, 4.0]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    repo = standard_repository(tmp_path_factory.mktemp("models"))
    with running(repo, reload_interval_s=0, max_body_bytes=10_000) as srv:
        yield srv


def test_body_over_the_limit_with_content_length_is_413(small: RunningServer) -> None:
    with httpx.Client(base_url=small.url) as client:
        r = client.post("/v1/models/tshirt/predict", content=b"x" * 20_000)
        assert r.status_code == 413 and "limit" in r.json()["error"]
        assert_still_serving(client)


def test_413_comes_before_the_body_is_sent(small: RunningServer) -> None:
    """Declare 100 MB, send nothing: the answer must come anyway."""
    with socket.create_connection(("127.0.0.1", small.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v2/models/mnist/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")


def test_chunked_body_over_the_limit_is_413(small: RunningServer) -> None:
    def json_chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b"[" + b"1," * 500 + b"1]"

    def multipart_chunks() -> Iterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n\r\n'
        for _ in range(50):
            yield b"\x89PNG" + bytes(1000)

    with httpx.Client(base_url=small.url) as client:
        r = client.post("/v2/models/mnist/infer", content=json_chunks())
        assert r.status_code == 413, r.text
        r = client.post(
            "/v1/models/mnist/predict/image",
            content=multipart_chunks(),
            headers={"content-type": "multipart/form-data; boundary=x"},
        )
        assert r.status_code == 413, r.text
        assert_still_serving(client)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_bodies_are_read_and_bombs_refused(small: RunningServer, encoding: str) -> None:
    compress = gzip.compress if encoding == "gzip" else zlib.compress
    good = json.dumps({"instances": [ROW]}).encode()
    bomb = compress(b" " * 5_000_000)  # 5 MB of spaces in a few KB
    assert len(bomb) < 10_000
    with httpx.Client(base_url=small.url) as client:
        headers = {"content-encoding": encoding}
        ok = client.post("/v1/models/tshirt/predict", content=compress(good), headers=headers)
        assert ok.status_code == 200, ok.text
        r = client.post("/v1/models/tshirt/predict", content=bomb, headers=headers)
        assert r.status_code == 413 and "inflates" in r.json()["error"]
        r = client.post("/v1/models/tshirt/predict", content=b"not gzip", headers=headers)
        assert r.status_code == 400
        r = client.post(
            "/v1/models/tshirt/predict", content=good, headers={"content-encoding": "br"}
        )
        assert r.status_code == 415
        assert_still_serving(client)


@pytest.mark.parametrize(
    ("encoding", "after", "words"),
    [
        ("gzip", b"garbage", "7 bytes after the end of its gzip data"),
        ("deflate", b"garbage", "7 bytes after the end of its deflate data"),
        ("gzip", gzip.compress(b'{"instances": []}'), "more than one gzip member"),
    ],
    ids=["gzip-trailing-bytes", "deflate-trailing-bytes", "gzip-second-member"],
)
def test_compressed_bodies_with_anything_after_their_end_are_refused_saying_so(
    small: RunningServer, encoding: str, after: bytes, words: str
) -> None:
    """zlib reads one stream and sets the rest aside: it must not be dropped in silence."""
    compress = gzip.compress if encoding == "gzip" else zlib.compress
    good = compress(json.dumps({"instances": [ROW]}).encode())
    with httpx.Client(base_url=small.url) as client:
        r = client.post(
            "/v1/models/tshirt/predict",
            content=good + after,
            headers={"content-encoding": encoding},
        )
        assert r.status_code == 400, r.text
        assert words in r.json()["error"]
        assert_still_serving(client)


@pytest.fixture
def slow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """Injected faults, by batch size: 3 rows fail in ONNX Runtime, 4 give NaN logits, 6 give
    logits of the wrong shape, 5 take 0.3 s."""
    original = Session.run

    def run(self: Session, batch: np.ndarray, options: Any = None) -> np.ndarray:
        if len(batch) == 3:
            raise RuntimeError("injected onnxruntime failure /secret/path")
        if len(batch) == 4:
            return np.full((4, 1), np.nan, np.float32)
        if len(batch) == 6:
            return np.zeros((5, 1), np.float32)
        if len(batch) == 5:
            time.sleep(0.3)
        return original(self, batch, options)

    monkeypatch.setattr(Session, "run", run)
    repo = standard_repository(tmp_path / "models")
    # Every call on the thread, even where the tests run on one CPU (the injected delay
    # sleeps, which costs no CPU time, and would look short): health must answer while a
    # call is running.
    with running(
        repo, reload_interval_s=0, max_inflight=2, batching=False, inline_call_us=0
    ) as srv:
        yield srv


def test_past_the_inflight_limit_requests_get_503_with_retry_after_and_recover(
    slow: RunningServer,
) -> None:
    statuses: list[int] = []
    retry_after: list[str | None] = []

    def one() -> None:
        with httpx.Client(base_url=slow.url, timeout=10) as client:
            r = client.post("/v1/models/tshirt/predict", json={"instances": [ROW] * 5})
            statuses.append(r.status_code)
            retry_after.append(r.headers.get("retry-after"))

    threads = [threading.Thread(target=one) for _ in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(0.1)
    with httpx.Client(base_url=slow.url) as client:
        health_started = time.monotonic()
        assert client.get("/v2/health/live").status_code == 200
        assert time.monotonic() - health_started < 0.2  # answered while inference is saturated
    for t in threads:
        t.join()
    assert statuses.count(200) >= 2 and statuses.count(503) >= 1, statuses
    assert all(ra == "1" for s, ra in zip(statuses, retry_after) if s == 503)
    assert time.monotonic() - started < 5  # refused at once, not queued
    with httpx.Client(base_url=slow.url) as client:
        assert (
            client.post("/v1/models/tshirt/predict", json={"instances": [ROW]}).status_code == 200
        )
        metrics = client.get("/metrics").text
    assert 'logitserve_rejected_total{reason="overloaded"}' in metrics


def test_an_onnxruntime_failure_is_a_json_500_without_details(slow: RunningServer) -> None:
    with httpx.Client(base_url=slow.url) as client:
        r = client.post("/v1/models/tshirt/predict", json={"instances": [ROW] * 3})
        assert r.status_code == 500
        assert r.json() == {"error": "inference failed in model 'tshirt' version 1"}
        assert "secret" not in r.text and "Traceback" not in r.text
        assert_still_serving(client)
        metrics = client.get("/metrics").text
    assert 'logitserve_inference_failures_total{model="tshirt",version="1"} 1.0' in metrics


@pytest.mark.parametrize("rows", [4, 6], ids=["NaN logits", "misshapen logits"])
def test_unusable_model_output_is_a_json_500_and_never_reaches_the_client(
    slow: RunningServer, rows: int
) -> None:
    with httpx.Client(base_url=slow.url) as client:
        r = client.post("/v1/models/tshirt/predict", json={"instances": [ROW] * rows})
        assert r.status_code == 500
        assert r.json() == {
            "error": "model 'tshirt' version 1 produced non-finite or misshapen output"
        }
        assert_still_serving(client)
        metrics = client.get("/metrics").text
    assert 'logitserve_inference_failures_total{model="tshirt",version="1"} 1.0' in metrics


def test_an_unexpected_error_in_any_route_is_a_json_500_with_the_request_id(
    repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running(repository, reload_interval_s=0) as srv, httpx.Client(base_url=srv.url) as client:
        registry = srv.services.registry

        def broken() -> None:
            raise RuntimeError("secret internals /etc/passwd")

        monkeypatch.setattr(type(registry), "models", property(lambda self: broken()))
        r = client.get("/v1/models", headers={"X-Request-ID": "trace-me"})
        assert r.status_code == 500
        assert r.json() == {"error": "internal server error (request id trace-me)"}
        assert client.get("/v2/health/live").status_code == 200
