"""The hostile clients all at once: idle and trickling uploads (64 of them from another
address, reconnecting), endless and oversized headers, JSON bombs and oversized images over
HTTP; gzip'd typed-contents bombs, stream floods, rapid resets and idle connections over gRPC
(the busiest in a process of their own: tests/load/attackers.py) -- against a server at its
default limits, while good clients predict over both transports. The good clients see no error and
a p99 under 100 ms on each, and the server's memory stays under half of the 1 GiB that
deploy/kubernetes gives it. Loopback only, bounded in time."""

from __future__ import annotations

import gzip
import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from service.grpc.generated import grpc_service_pb2 as pb
from tests.builders import standard_repository
from tests.servers import ServerProcess, free_port, running_process

# Latency and memory under load: alone, after the rest (make test).
pytestmark = pytest.mark.serial

SOAK_S = 12.0
GOOD = "127.0.0.3"
UPLOAD = (
    b"POST /v1/models/tshirt/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 4000\r\n\r\n{"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    repo = standard_repository(tmp_path_factory.mktemp("repo"))
    port = free_port()
    args = ("--reload-interval-s", "0", "--no-access-log", "--grpc-port", str(port))
    with running_process(repo, *args) as srv:
        yield srv, f"127.0.0.1:{port}"


@contextmanager
def busy_attackers(http_port: int, target: str) -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.load.attackers", str(http_port), target],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "attacking\n"
        yield
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


class Attackers:
    """Threads that each repeat one hostile client until stopped."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def add(self, count: int, attack: Callable[[threading.Event], None]) -> None:
        for _ in range(count):
            self._threads.append(threading.Thread(target=self._loop, args=(attack,)))

    def _loop(self, attack: Callable[[threading.Event], None]) -> None:
        while not self._stop.is_set():
            try:
                attack(self._stop)
            except OSError:  # the server cut us off: that is its job; come back
                time.sleep(0.05)

    @contextmanager
    def running(self) -> Iterator[None]:
        for thread in self._threads:
            thread.start()
        try:
            yield
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(timeout=15)


def idle_upload(port: int) -> Callable[[threading.Event], None]:
    def attack(stop: threading.Event) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(UPLOAD)
            sock.recv(1024)  # until the server gives up on us

    return attack


def trickle(port: int) -> Callable[[threading.Event], None]:
    def attack(stop: threading.Event) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(UPLOAD)
            while not stop.is_set():
                sock.sendall(b" ")
                time.sleep(0.5)

    return attack


def slowloris(port: int) -> Callable[[threading.Event], None]:
    def attack(stop: threading.Event) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
            while not stop.is_set():
                sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.5)

    return attack


def huge_header(port: int) -> Callable[[threading.Event], None]:
    def attack(stop: threading.Event) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: ")
            for _ in range(800):  # 50 MiB, never terminated
                sock.sendall(b"a" * 65536)

    return attack


def bombs(url: str) -> Callable[[threading.Event], None]:
    tiny = b'{"instances":[' + b",".join([b'{"data":[1]}'] * 300_000) + b"]}"
    packed = gzip.compress(tiny)
    image = Image.new("RGBA", (4000, 4000), (255, 255, 255, 255))
    ImageDraw.Draw(image).ellipse((1300, 800, 2700, 3200), outline=(0, 0, 0, 255), width=200)
    out = io.BytesIO()
    image.save(out, format="PNG")
    big = out.getvalue()

    def attack(stop: threading.Event) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            client.post(
                "/v1/models/mnist/predict",
                content=packed,
                headers={"content-encoding": "gzip", "content-type": "application/json"},
            )
            client.post("/v1/models/mnist/predict", content=tiny)
            files = [("files", ("big.png", big, "image/png"))] * 2
            client.post("/v1/models/mnist/predict/image", files=files)

    return attack


def cpu_s(pid: int) -> float:
    """CPU seconds the process has used, user and system."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def high_water_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


class GoodGrpcClient:
    """A gRPC client predicting one digit at a time on a thread: its codes and latencies."""

    def __init__(self, target: str) -> None:
        request = pb.ModelInferRequest(model_name="mnist")
        request.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
        request.raw_input_contents.append((np.arange(784) % 256).astype(np.uint8).tobytes())
        self._request = request.SerializeToString()
        self._target = target
        self.codes: list[str] = []
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with grpc.insecure_channel(self._target) as channel:
            call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    call(self._request, timeout=10)
                    self.codes.append("OK")
                except grpc.RpcError as error:
                    self.codes.append(error.code().name)
                self.latencies.append(time.perf_counter() - started)
                time.sleep(0.01)

    def __enter__(self) -> GoodGrpcClient:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_good_clients_are_served_while_every_hostile_client_runs(
    server: tuple[ServerProcess, str],
) -> None:
    srv, target = server
    attackers = Attackers()
    attackers.add(16, idle_upload(srv.port))
    attackers.add(8, trickle(srv.port))
    attackers.add(16, slowloris(srv.port))
    attackers.add(4, huge_header(srv.port))
    attackers.add(2, bombs(srv.url))
    statuses: list[int] = []
    latencies: list[float] = []
    pixels = {"instances": [(np.arange(784) % 256).tolist()]}
    with (
        busy_attackers(srv.port, target),
        attackers.running(),
        # The good client has an address of its own, as it would: the 24 stalled uploads
        # above share 127.0.0.1, and a share of 16 per address is what keeps them from
        # the rest (a good body this process writes in two parts, 50 threads apart, may
        # settle slower than SETTLE_S and count as arriving).
        httpx.Client(
            base_url=srv.url, timeout=10, transport=httpx.HTTPTransport(local_address=GOOD)
        ) as good,
    ):
        time.sleep(1.0)  # let the attackers settle in
        cpu_before = cpu_s(srv.process.pid)
        with GoodGrpcClient(target) as good_grpc:
            deadline = time.monotonic() + SOAK_S
            while time.monotonic() < deadline:
                started = time.perf_counter()
                statuses.append(good.post("/v1/models/mnist/predict", json=pixels).status_code)
                latencies.append(time.perf_counter() - started)
                time.sleep(0.01)
        cpu = cpu_s(srv.process.pid) - cpu_before
        peak = high_water_mb(srv.process.pid)
    assert set(statuses) == {200}, f"good HTTP clients got {sorted(set(statuses))}"
    assert set(good_grpc.codes) == {"OK"}, f"good gRPC clients got {sorted(set(good_grpc.codes))}"
    p99 = float(np.percentile(latencies, 99))
    grpc_p99 = float(np.percentile(good_grpc.latencies, 99))
    print(
        f"soak: HTTP {len(statuses)} p50 {np.percentile(latencies, 50) * 1000:.1f} ms "
        f"p99 {p99 * 1000:.1f} ms; gRPC {len(good_grpc.codes)} "
        f"p99 {grpc_p99 * 1000:.1f} ms; peak {peak:.0f} MB; server CPU {cpu / SOAK_S:.0%}"
    )
    assert len(statuses) > 150 and len(good_grpc.codes) > 150
    assert p99 < 0.1, f"HTTP p99 {p99 * 1000:.0f} ms"
    assert grpc_p99 < 0.1, f"gRPC p99 {grpc_p99 * 1000:.0f} ms"
    assert peak < 512, f"the server peaked at {peak:.0f} MB"
