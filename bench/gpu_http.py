"""The GPU check's view of a running service: start one on given providers, ask it which
provider serves each model, call every route kind, and time v2 binary requests.

Standard library and numpy only: the client is http.client over one keep-alive connection,
so latency is the service's, not a client library's.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


class CheckFailed(Exception):
    """One of the GPU check's assertions did not hold."""


@dataclass
class Server:
    label: str
    port: int

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        conn = self.connect()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, dict]:
        status, body = self.request("GET", path)
        return status, json.loads(body or b"{}")

    def text(self, path: str) -> str:
        return self.request("GET", path)[1].decode()


def binary_request(
    input_name: str, batch: np.ndarray, output: str = "probabilities"
) -> tuple[bytes, dict[str, str]]:
    """An Open Inference Protocol request with binary tensor data both ways."""
    datatype = "UINT8" if batch.dtype == np.uint8 else "FP32"
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": input_name,
                    "shape": list(batch.shape),
                    "datatype": datatype,
                    "parameters": {"binary_data_size": batch.nbytes},
                }
            ],
            "outputs": [{"name": output, "parameters": {"binary_data": True}}],
        }
    ).encode()
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }
    return header + np.ascontiguousarray(batch).tobytes(), headers


def infer(
    conn: http.client.HTTPConnection, model: str, body: bytes, headers: dict[str, str]
) -> tuple[bytes, bytes]:
    """(JSON header, binary data) of one inference."""
    conn.request("POST", f"/v2/models/{model}/infer", body=body, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    if response.status != 200:
        raise CheckFailed(f"{model}: infer answered {response.status}: {payload[:300]!r}")
    length = response.getheader("Inference-Header-Content-Length")
    if length is None:
        raise CheckFailed(f"{model}: the response has no binary tensor data")
    return payload[: int(length)], payload[int(length) :]


def output_array(header: bytes, data: bytes, rows: int, name: str) -> np.ndarray:
    (output,) = [o for o in json.loads(header)["outputs"] if o["name"] == name]
    size = output["parameters"]["binary_data_size"]
    return np.frombuffer(data[:size], dtype="<f4").reshape(rows, -1)


def predict(
    server: Server, model: str, input_name: str, batch: np.ndarray, output: str = "probabilities"
) -> np.ndarray:
    body, headers = binary_request(input_name, batch, output)
    conn = server.connect()
    try:
        header, data = infer(conn, model, body, headers)
    finally:
        conn.close()
    return output_array(header, data, len(batch), output)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def nvidia_library_path() -> str:
    """The lib folders of the NVIDIA pip wheels (CUDA 13, cuDNN 9) beside this interpreter's
    packages: the loader has to find them, and nothing else puts them on its path."""
    folders: list[str] = []
    for site in {sysconfig.get_paths()["purelib"], *sys.path}:
        nvidia = Path(site) / "nvidia"
        if nvidia.is_dir():
            folders += sorted(str(p) for p in nvidia.glob("*/lib") if p.is_dir())
    return os.pathsep.join([*folders, os.environ.get("LD_LIBRARY_PATH", "")]).strip(os.pathsep)


@contextmanager
def serving(
    label: str, providers: list[str], models_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """The service from this checkout on a loopback port, ready, stopped on leaving."""
    port = free_port()
    env = {
        **os.environ,
        "LOGITSERVE_PROVIDERS": ",".join(providers),
        "LOGITSERVE_ACCESS_LOG": "false",
        "LOGITSERVE_LOG_LEVEL": "warning",
        "LOGITSERVE_RELOAD_INTERVAL_S": "0",
        **(extra_env or {}),
    }
    if CUDA in providers:
        env["LD_LIBRARY_PATH"] = nvidia_library_path()
    argv = [sys.executable, "-m", "service", "--models-dir", str(models_dir)]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--grpc-port", "0"]
    process = subprocess.Popen(argv, cwd=ROOT, env=env)
    server = Server(label, port)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise CheckFailed(f"the {label} service exited with status {process.returncode}")
            with contextlib.suppress(OSError):  # not listening yet
                if server.get("/v2/health/ready")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise CheckFailed(f"the {label} service was not ready within 120 s")
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def input_of(server: Server, model: str) -> tuple[str, list[int]]:
    status, meta = server.get(f"/v2/models/{model}")
    if status != 200:
        raise CheckFailed(f"{server.label}: model {model} is not served: {meta}")
    (tensor,) = meta["inputs"]
    return tensor["name"], tensor["shape"]


def check_provider(server: Server, model: str, expected: str) -> str:
    """The provider in metadata and in /metrics is `expected`; a line saying so."""
    status, detail = server.get(f"/v1/models/{model}")
    if status != 200:
        raise CheckFailed(f"{server.label}: /v1/models/{model} answered {status}: {detail}")
    version = detail["versions"][0]
    if version["provider"] != expected:
        raise CheckFailed(
            f"{server.label}: {model} runs on {version['provider']}, not {expected} "
            f"({version.get('provider_fallback') or 'no reason given'})"
        )
    if not metric_says(server.text("/metrics"), model, str(version["version"]), expected):
        raise CheckFailed(f"{server.label}: /metrics does not report {model} ready on {expected}")
    below = version.get("cpu_below_rows") or 0
    small = f", calls under {below} rows on the CPU" if below else ""
    return f"{model} v{version['version']} on {version['provider']}{small}"


def metric_says(metrics: str, model: str, version: str, provider: str) -> bool:
    """`logitserve_model_ready` is 1 for this model version on this provider."""
    wanted = {f'model="{model}"', f'version="{version}"', f'provider="{provider}"'}
    for line in metrics.splitlines():
        if line.startswith("logitserve_model_ready{") and line.endswith(" 1.0"):
            labels = set(line[line.index("{") + 1 : line.index("}")].split(","))
            if wanted <= labels:
                return True
    return False


def multipart(field: str, filename: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = "gpu-check-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def check_routes(server: Server, model: str, row: list, image: bytes | None) -> str:
    """v1 JSON (and an image upload for image models) answer 200 with a label and version."""
    status, body = server.request(
        "POST",
        f"/v1/models/{model}/predict",
        json.dumps({"instances": [row]}).encode(),
        {"Content-Type": "application/json"},
    )
    if status != 200:
        raise CheckFailed(
            f"{server.label}: v1 predict on {model} answered {status}: {body[:300]!r}"
        )
    answer = json.loads(body)
    said = [f"v1 JSON -> {answer['predictions'][0]['label']!r} (v{answer['version']})"]
    if image is not None:
        form, content_type = multipart("files", "digit.png", image, "image/png")
        status, body = server.request(
            "POST", f"/v1/models/{model}/predict/image", form, {"Content-Type": content_type}
        )
        if status != 200:
            raise CheckFailed(f"{server.label}: image upload to {model} answered {status}")
        said.append(f"image -> {json.loads(body)['predictions'][0]['label']!r}")
    return f"{model}: " + ", ".join(said)


@dataclass
class Timing:
    batch: int
    p50_ms: float
    p99_ms: float
    rows_per_s: float


def time_batches(
    server: Server, model: str, batches: dict[int, np.ndarray], seconds: float
) -> list[Timing]:
    """v2 binary requests of each batch size, back to back for about `seconds` each."""
    name, _ = input_of(server, model)
    timings = []
    conn = server.connect()
    try:
        for rows, batch in batches.items():
            body, headers = binary_request(name, batch)
            for _ in range(5):  # warm-up: connection, allocator, kernels
                infer(conn, model, body, headers)
            latencies: list[float] = []
            started = time.perf_counter()
            while len(latencies) < 20 or (
                time.perf_counter() - started < seconds and len(latencies) < 2000
            ):
                t = time.perf_counter()
                infer(conn, model, body, headers)
                latencies.append(time.perf_counter() - t)
            p50, p99 = np.percentile(np.array(latencies) * 1000, [50, 99])
            timings.append(Timing(rows, float(p50), float(p99), rows / float(np.mean(latencies))))
    finally:
        conn.close()
    return timings


def time_new_shapes(server: Server, model: str, sizes: list[int]) -> list[float]:
    """Milliseconds of one v2 binary request at each batch size, each size new to the
    service: what a client pays when dynamic batching forms a batch of a size not seen yet."""
    name, shape = input_of(server, model)
    times = []
    conn = server.connect()
    try:
        for rows in sizes:
            batch = np.random.default_rng(rows).integers(0, 256, (rows, *shape[1:]), dtype=np.uint8)
            body, headers = binary_request(name, batch)
            started = time.perf_counter()
            infer(conn, model, body, headers)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        conn.close()
    return times
