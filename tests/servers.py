"""A real server on a loopback port, in a thread of the test process: real sockets and HTTP
parsing, a start in milliseconds, and the app's state reachable from the test."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.api.deps import Services
from service.api.gateway import Gateway
from service.server import Server
from service.settings import Settings

# Every server process a test starts carries this in its environment (its workers inherit
# it), so the session can find any left running: see left_running().
SESSION_MARK = "LOGITSERVE_TEST_SESSION"
SESSION = uuid.uuid4().hex


def left_running() -> list[int]:
    """Processes of this test session's servers still alive (zombies aside)."""
    mark = f"{SESSION_MARK}={SESSION}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if state != "Z":
            pids.append(int(entry.name))
    return pids


def group_members(pgid: int) -> list[int]:
    """Live processes (zombies aside) of process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


@dataclass
class RunningServer:
    url: str
    port: int
    server: Server
    loop: asyncio.AbstractEventLoop

    @property
    def gateway(self) -> Gateway:
        app = self.server.http_app
        while not isinstance(app, Gateway):
            app = app.app  # through the CORS wrapper to the gateway
        return app

    @property
    def grpc_target(self) -> str:
        """host:port of its gRPC server (started with grpc_port=free_port())."""
        grpc_server = self.server.grpc
        assert grpc_server is not None, "started without gRPC: pass grpc_port=free_port()"
        return f"127.0.0.1:{grpc_server.port}"

    def access_lines(
        self, stderr: pytest.CaptureFixture[str], at_least: int = 0
    ) -> list[dict[str, Any]]:
        """The access-log lines written since the last read of `stderr` (capsys), once there
        are `at_least` of them: a request is recorded just after its answer has gone out (the
        client may have it first), and the log is written in batches by a thread of its own."""
        log = self.server.core.access.log
        assert log is not None, "started with access_log=False"
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 5
        while True:
            log.flush()
            lines = stderr.readouterr().err.splitlines()
            found += [json.loads(x) for x in lines if '"logger":"logitserve.access"' in x]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    @property
    def services(self) -> Services:
        services: Services = self.gateway.app.state.services
        return services


@contextmanager
def running(models_dir: Path, **overrides: Any) -> Iterator[RunningServer]:
    """The whole server (server.Server: the core, HTTP and, when asked, gRPC) on a thread."""
    # No gRPC unless a test asks for it, on a port of its own (see free_port).
    overrides = {"grpc_port": 0, **overrides}
    settings = Settings(models_dir=models_dir, providers=["CPUExecutionProvider"], **overrides)
    server = Server(settings, host="127.0.0.1", port=0, loop="asyncio", timeout_graceful_shutdown=5)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a loaded CI machine loads five models slowly
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.http_port
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", port, server, loop)
    finally:
        server.exit()
        thread.join(timeout=15)
        loop.close()


def free_port() -> int:
    """A port nothing listens on now (the server binds it a moment later)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def access_logging(level: int = logging.INFO) -> Iterator[None]:
    """Access lines on, as `logs.configure` leaves them in a real server (in-process servers
    inherit the test process's logging, where info may be off), or off with a higher level."""
    logger = logging.getLogger("logitserve.access")
    before = logger.level, logger.disabled
    # A library's dictConfig (disable_existing_loggers) earlier in the same process may
    # have disabled it.
    logger.setLevel(level)
    logger.disabled = False
    try:
        yield
    finally:
        logger.setLevel(before[0])
        logger.disabled = before[1]


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


def raw_request(port: int, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP/1.1 request with the target sent exactly as given (clients normalise '..')."""
    import socket

    head = (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@dataclass
class ServerProcess:
    process: Any
    url: str
    port: int
    log: Any

    def log_text(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return str(self.log.read().decode("utf-8", "replace"))

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")


def bound_by_file_modes() -> list[str]:
    """A command prefix under which a server process obeys file modes: as root (CI,
    containers), which reads any file whatever its mode, root without the capabilities that
    override them (util-linux's setpriv); otherwise nothing."""
    import os

    if os.geteuid() != 0:
        return []
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", "--"]


@contextmanager
def running_process(
    models_dir: Path,
    *args: str,
    module: str = "service",
    prefix: list[str] | None = None,
    environment: dict[str, str] | None = None,
    **env: str,
) -> Iterator[ServerProcess]:
    """`python -m service` in its own process: for signals and memory. Its log goes to a file
    (a pipe nobody reads would fill up and block the server). `module` runs another entry
    point with the same arguments (tests/hung_disk.py), `prefix` goes before the command."""
    import contextlib
    import os
    import signal
    import socket
    import subprocess
    import sys
    import tempfile

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    process = subprocess.Popen(
        [
            *(prefix or []),
            sys.executable,
            "-m",
            module,
            "--models-dir",
            str(models_dir),
            "--port",
            str(port),
            "--providers",
            "CPUExecutionProvider",
            *(() if "--grpc-port" in args or "grpc_port" in env else ("--grpc-port", "0")),
            *args,
        ],
        stdout=log,
        stderr=log,
        env={
            **os.environ,
            **(environment or {}),
            **{f"LOGITSERVE_{k.upper()}": v for k, v in env.items()},
            SESSION_MARK: SESSION,
        },
        # Its own process group: with --workers, killing the supervisor alone would leave
        # uvicorn's worker processes running after the test.
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def live() -> bool:
        try:
            return httpx.get(url + "/v2/health/live", timeout=1).status_code == 200
        except httpx.TransportError:
            return process.poll() is not None

    try:
        wait_until(live, timeout=60)
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(log.read().decode()[-2000:])
        yield ServerProcess(process, url, port, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        # SIGKILL is delivered, not awaited: the workers die a moment after the supervisor.
        wait_until(lambda: not group_members(process.pid), timeout=10, interval=0.01)
        log.close()


class Traffic:
    """Threads posting to one route in a loop until stopped: statuses and served versions
    counted, for checking that nothing fails while the repository changes underneath."""

    def __init__(self, url: str, path: str, body: object, workers: int = 4) -> None:
        self.statuses: Counter[int] = Counter()
        self.versions: Counter[str] = Counter()
        self.bodies: dict[int, str] = {}  # the first body seen for each status, for messages
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(url, path, body)) for _ in range(workers)
        ]

    def _run(self, url: str, path: str, body: object) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            while not self._stop.is_set():
                r = client.post(path, json=body)
                self.statuses[r.status_code] += 1
                self.bodies.setdefault(r.status_code, r.text[:300])
                if r.status_code == 200 and "model_version" in r.text:
                    self.versions[r.json()["model_version"]] += 1

    def __enter__(self) -> Traffic:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()
