"""Stopping: on SIGTERM the server drains before it closes. Every request a client sends in
the drain, on a keep-alive connection or a new one, gets an HTTP answer with Connection:
close (served, or 503 on a connection opened meanwhile), never a closed connection; and the
process still ends within the drain and the grace period."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.builders import standard_repository
from tests.servers import running_process

BODY = {"instances": [[20, 5, 3, 7]]}


class KeepAliveClients:
    """Threads posting in a loop on keep-alive connections; what each request sent after
    `since` got: its status, or the name of the error that came instead."""

    def __init__(self, url: str, count: int) -> None:
        self.since = float("inf")
        self.until = float("inf")
        self.outcomes: Counter[str] = Counter()
        self.closing: Counter[str] = Counter()  # the Connection header of those answers
        self._url = url
        self._threads = [threading.Thread(target=self._run) for _ in range(count)]

    def _run(self) -> None:
        with httpx.Client(base_url=self._url, timeout=10) as client:
            while (sent := time.monotonic()) < self.until:
                try:
                    r = client.post("/v1/models/tshirt/predict", json=BODY)
                    outcome = str(r.status_code)
                    connection = r.headers.get("connection", "keep-alive")
                except httpx.TransportError as exc:
                    outcome, connection = type(exc).__name__, "-"
                if sent >= self.since:
                    self.outcomes[outcome] += 1
                    self.closing[connection] += 1
                time.sleep(0.002)

    def __enter__(self) -> KeepAliveClients:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.until = 0.0
        for thread in self._threads:
            thread.join()


def test_requests_sent_while_the_server_drains_are_answered_never_dropped(
    tmp_path: Path,
) -> None:
    """Before: 14 keep-alive requests sent in the half second after SIGTERM met closed
    connections (uvicorn closes idle keep-alive connections and the port at once)."""
    repo = standard_repository(tmp_path / "repo")
    with running_process(repo, "--reload-interval-s", "0", "--drain-s", "1.5") as srv:
        with KeepAliveClients(srv.url, 8) as clients:
            time.sleep(1.0)  # keep-alive connections open and busy
            clients.since = time.monotonic()
            clients.until = clients.since + 0.5  # the half second after SIGTERM
            os.kill(srv.process.pid, signal.SIGTERM)
            time.sleep(0.6)
        assert srv.process.wait(timeout=20) in (0, -signal.SIGTERM)
    answered = clients.outcomes["200"] + clients.outcomes["503"]
    assert answered > 20, clients.outcomes
    assert answered == sum(clients.outcomes.values()), clients.outcomes
    assert clients.closing["close"] > 0, clients.closing  # told to go, once the drain began
