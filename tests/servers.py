"""A real uvicorn server on a loopback port, in a thread of the test process: real sockets
and HTTP parsing, a start in milliseconds, and the app's state reachable from the test."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from service.app import create_app
from service.settings import Settings


@dataclass
class RunningServer:
    url: str
    port: int
    server: uvicorn.Server
    loop: asyncio.AbstractEventLoop

    @property
    def services(self) -> Any:
        app = self.server.config.loaded_app
        while not hasattr(app, "_services"):
            app = app.app  # through uvicorn's and CORS wrappers to the gateway
        return app._services

    @property
    def gateway(self) -> Any:
        app = self.server.config.loaded_app
        while not hasattr(app, "_services"):
            app = app.app
        return app


@contextmanager
def running(models_dir: Path, **overrides: Any) -> Iterator[RunningServer]:
    settings = Settings(models_dir=models_dir, providers=["CPUExecutionProvider"], **overrides)
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        loop="asyncio",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", port, server, loop)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        loop.close()


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def assert_still_serving(client: httpx.Client, model: str = "tshirt") -> None:
    """After a bad request: the server is live and another model still predicts."""
    assert client.get("/v2/health/live").status_code == 200
    r = client.post(f"/v1/models/{model}/predict", json={"instances": [[20, 5, 3, 7]]})
    assert r.status_code == 200, r.text
