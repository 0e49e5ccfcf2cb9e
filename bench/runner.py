"""Starting servers pinned to a core, driving them with wrk pinned to another, and reading
what each run cost the server (CPU seconds from /proc, resident memory)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

LUA = Path(__file__).with_name("post.lua")
SERVER_CPU, CLIENT_CPU = "0", "1"


def pinning() -> bool:
    return bool(shutil.which("taskset")) and (os.cpu_count() or 1) >= 2


def _pinned(cpu: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if pinning() else argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    ready_s: float

    def cpu_seconds(self) -> float:
        """CPU time of the server and the processes it started (Mosec's front end and
        worker, for one), as long as they live."""
        total = 0
        for pid in [self.process.pid, *map(int, _children(self.process.pid))]:
            with contextlib.suppress(FileNotFoundError):  # a child that just exited
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def rss_mb(self, children: bool = False) -> float:
        """Resident memory of the server (with `children`, of its worker processes too)."""
        pids = [self.process.pid]
        if children:
            pids += [int(p) for p in _children(self.process.pid)]
        total = 0.0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        return total


def _children(pid: int) -> list[str]:
    found = []
    with contextlib.suppress(FileNotFoundError):  # the process ended meanwhile
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                kids = (task / "children").read_text().split()
            except FileNotFoundError:  # a thread that ended meanwhile
                continue
            found += kids
            for kid in kids:
                found += _children(int(kid))
    return found


@contextmanager
def server(
    argv: list[str],
    ready_path: str,
    env: dict[str, str] | None = None,
    pin: bool = True,
    cwd: Path | None = None,
) -> Iterator[Server]:
    """A server process on a free loopback port (argv gets --port appended); `pin`: on the
    server's core (else anywhere: several workers need several cores); `cwd`: where it runs
    (another checkout's service)."""
    port = free_port()
    started = time.perf_counter()
    command = [*argv, "--port", str(port)]
    # Its logs (the access log among them) go to a file, as a deployment's would: not to
    # /dev/null, whose writes cost nothing.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed below, after the process)
    process = subprocess.Popen(
        _pinned(SERVER_CPU, command) if pin else command,
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):  # not listening yet
                if httpx.get(url + ready_path, timeout=1).status_code in (200, 405):
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                tail = log.read().decode("utf-8", "replace")[-2000:]
                raise RuntimeError(f"server did not start: {' '.join(argv)}\n{tail}")
            time.sleep(0.01)
        yield Server(process, url, time.perf_counter() - started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@dataclass
class Result:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk(
    srv: Server,
    path: str,
    body: Path,
    headers: dict[str, str],
    connections: int,
    duration: float,
    pin: bool = True,
) -> Result:
    env = {
        **os.environ,
        "BENCH_BODY": str(body),
        "BENCH_HEADERS": "|".join(f"{k}: {v}" for k, v in headers.items()),
    }

    def run(seconds: float) -> dict[str, float]:
        command = [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            srv.url + path,
        ]
        out = subprocess.run(
            _pinned(CLIENT_CPU, command) if pin else command,
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    run(1)  # warm-up
    cpu_before = srv.cpu_seconds()
    summary = run(duration)
    cpu = srv.cpu_seconds() - cpu_before
    errors = sum(int(v) for k, v in summary.items() if k.startswith("errors_"))
    requests = int(summary["requests"])
    return Result(
        requests=requests,
        seconds=summary["duration_us"] / 1e6,
        errors=errors,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        cpu_ms_per_request=cpu * 1000 / max(requests, 1),
    )


def service_argv(
    models_dir: Path, *options: str, python: str = sys.executable, grpc: bool = True
) -> list[str]:
    """The service as a user starts it: the access log on, gRPC on a port of its own
    (`grpc`: whether the checkout serves it; `--previous` may predate it). `options` come
    last, so they override these (`--no-access-log`, `--grpc-port 0`)."""
    return [
        python,
        "-m",
        "service",
        "--models-dir",
        str(models_dir),
        "--providers",
        "CPUExecutionProvider",
        "--host",
        "127.0.0.1",
        *(["--grpc-port", str(free_port())] if grpc else []),
        *options,
    ]


def baseline_argv(app: str = "bench.baseline_app:app") -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
        "--host",
        "127.0.0.1",
    ]
