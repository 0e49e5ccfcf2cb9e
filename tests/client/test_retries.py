"""Retries on 503 that honour Retry-After, timeouts and refused connections, against real
sockets: a server at its limit of requests in flight answers 503 with Retry-After."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from logitserve_client import (
    AsyncClient,
    Client,
    LogitserveError,
    RequestFailed,
    ServiceUnavailable,
    TimedOut,
)
from logitserve_client._retry import RetryPolicy, retry_after
from tests.servers import ServerProcess, running_process

ROW = [[20.0, 5.0, 3.0, 7.0]]


@pytest.fixture(scope="module")
def busy_server(repository: Path) -> Iterator[ServerProcess]:
    """A server that holds 100 bytes of request bodies at a time (a body whole with its
    headers takes no receiving place, but its bytes count)."""
    args = ("--reload-interval-s", "0", "--max-buffered-bytes", "100")
    with running_process(repository, *args) as srv:
        yield srv


@contextmanager
def request_in_flight(server: ServerProcess, release_after: float) -> Iterator[None]:
    """Hold the server's 100 bytes for bodies with a request whose body never finishes
    arriving; the connection is dropped `release_after` seconds in, which frees them."""
    # The bytes are held once the body counts as arriving (SETTLE_S after its headers):
    # wait past that, then check that others are refused. A prediction answered at that very
    # moment holds its own bytes and the held request is refused instead: open it again.
    deadline = time.monotonic() + 10
    while True:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(
            b"POST /v1/models/tshirt/predict HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        time.sleep(0.2)
        probe = httpx.post(f"{server.url}/v1/models/tshirt/predict", json={"instances": ROW})
        if probe.status_code == 503:
            break
        sock.close()
        assert time.monotonic() < deadline, "the held request never took the slot"
    timer = threading.Timer(release_after, sock.close)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        sock.close()


def test_a_503_is_retried_after_the_servers_retry_after(
    busy_server: ServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "logitserve_client")
    with Client(busy_server.url) as client, request_in_flight(busy_server, release_after=0.3):
        started = time.monotonic()
        result = client.predict("tshirt", ROW)
        waited = time.monotonic() - started
    assert len(result) == 1
    assert waited >= 0.95, "the server asked for Retry-After: 1"
    retries = [r for r in caplog.records if "retry 1 of 3 in 1.00 s" in r.getMessage()]
    assert len(retries) == 1 and "503" in retries[0].getMessage()


def test_without_retries_a_503_raises_with_the_message_and_retry_after(
    busy_server: ServerProcess,
) -> None:
    with (
        Client(busy_server.url, retries=0) as client,
        request_in_flight(busy_server, 5),
        pytest.raises(ServiceUnavailable) as caught,
    ):
        client.predict("tshirt", ROW)
    error = caught.value
    assert error.status == 503 and error.retry_after == 1.0
    assert "holds too many request bodies" in error.message


def test_the_async_client_retries_the_same_way(busy_server: ServerProcess) -> None:
    async def predict() -> tuple[int, float]:
        async with AsyncClient(busy_server.url) as client:
            started = time.monotonic()
            result = await client.predict("tshirt", ROW)
            return len(result), time.monotonic() - started

    with request_in_flight(busy_server, release_after=0.3):
        rows, waited = asyncio.run(predict())
    assert rows == 1 and waited >= 0.95


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_server_that_does_not_answer_raises_timed_out(silent_port: int) -> None:
    with Client(f"http://127.0.0.1:{silent_port}", timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(TimedOut, match="no answer in time"):
            client.models()
        assert time.monotonic() - started < 5


def test_a_refused_connection_raises_request_failed() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with Client(f"http://127.0.0.1:{port}") as client, pytest.raises(RequestFailed) as caught:
        client.models()
    assert not isinstance(caught.value, TimedOut) and "ConnectError" in str(caught.value)


def test_an_answer_that_is_not_logitserves_says_so() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>hi</html>"))
    with (
        Client("http://elsewhere", transport=transport) as client,
        pytest.raises(LogitserveError, match="is this logitserve"),
    ):
        client.models()


def test_a_retry_after_longer_than_max_retry_wait_is_not_waited_for() -> None:
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, json={"error": "busy"}, headers={"Retry-After": "120"})

    transport = httpx.MockTransport(answer)
    with (
        Client("http://x", transport=transport, max_retry_wait=10) as client,
        pytest.raises(ServiceUnavailable) as caught,
    ):
        client.models()
    assert len(calls) == 1 and caught.value.retry_after == 120.0


def response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", "http://x/"))


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after(response(503, **{"Retry-After": "3"})) == 3.0
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert retry_after(response(503, **{"Retry-After": in_ten})) == pytest.approx(10, abs=1.5)
    assert retry_after(response(503, **{"Retry-After": "soon"})) is None
    assert retry_after(response(503)) is None


def test_the_policy_backs_off_without_retry_after_and_stops_after_its_retries() -> None:
    policy = RetryPolicy(retries=2, backoff=0.5)
    assert [policy.delay(n, response(503)) for n in range(3)] == [0.5, 1.0, None]
    assert policy.delay(0, response(500)) is None  # only 503 means "try again"


def test_a_429_is_retried_only_when_the_server_says_when() -> None:
    policy = RetryPolicy(retries=2)
    assert policy.delay(0, response(429, **{"Retry-After": "1"})) == 1.0
    assert policy.delay(2, response(429, **{"Retry-After": "1"})) is None  # retries spent
    assert policy.delay(0, response(429)) is None
