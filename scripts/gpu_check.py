"""The GPU check's logic, driven by scripts/gpu-check.sh (which sets up the interpreters).

    python scripts/gpu_check.py [--cuda --train-python PY] [--models-dir DIR] ...

Starts the service from this checkout on the CPU and, with --cuda, a second one on the CUDA
execution provider, both on loopback ports, and:

1. asserts each serves every checked model on the provider it was asked for (the service
   reports the provider really in use; ONNX Runtime falls back to the CPU silently);
2. with --cuda, sends the same inputs to both and asserts the probabilities agree
   (max |CUDA - CPU| <= --tolerance);
3. prints single-request latency (p50, p99) and batch throughput (v2 binary tensors: a JSON
   header, then the raw uint8 pixels) for each provider, measured in the same run;
4. with --cuda, trains mnist-cnn for a few epochs with `--device cuda` into a temporary models
   folder, using --train-python (torch lives in its own environment, as in the images).

Standard library and numpy only: the client is http.client over one keep-alive connection,
so latency is the service's, not a client library's. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
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


# -- the client --------------------------------------------------------------------------------
@dataclass
class Server:
    label: str
    port: int

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def get(self, path: str) -> tuple[int, dict]:
        conn = self.connect()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            conn.close()


def binary_request(input_name: str, batch: np.ndarray) -> tuple[bytes, dict[str, str]]:
    """An Open Inference Protocol request with binary tensor data, asking for probabilities."""
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": input_name,
                    "shape": list(batch.shape),
                    "datatype": "UINT8",
                    "parameters": {"binary_data_size": batch.nbytes},
                }
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(header)),
    }
    return header + np.ascontiguousarray(batch, dtype=np.uint8).tobytes(), headers


def probabilities(header: bytes, data: bytes, rows: int) -> np.ndarray:
    (output,) = [o for o in json.loads(header)["outputs"] if o["name"] == "probabilities"]
    size = output["parameters"]["binary_data_size"]
    return np.frombuffer(data[:size], dtype="<f4").reshape(rows, -1)


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


def predict(server: Server, model: str, input_name: str, batch: np.ndarray) -> np.ndarray:
    body, headers = binary_request(input_name, batch)
    conn = server.connect()
    try:
        header, data = infer(conn, model, body, headers)
    finally:
        conn.close()
    return probabilities(header, data, len(batch))


# -- the servers -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def nvidia_library_path() -> str:
    """The lib folders of the NVIDIA pip wheels (CUDA 13, cuDNN 9) beside this interpreter's
    onnxruntime-gpu: the loader has to find them, and nothing else puts them on its path."""
    nvidia = Path(sysconfig.get_paths()["purelib"]) / "nvidia"
    folders = sorted(str(p) for p in nvidia.glob("*/lib") if p.is_dir())
    return os.pathsep.join([*folders, os.environ.get("LD_LIBRARY_PATH", "")]).strip(os.pathsep)


@contextmanager
def serving(label: str, providers: list[str], models_dir: Path) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "LOGITSERVE_PROVIDERS": ",".join(providers),
        "LOGITSERVE_ACCESS_LOG": "false",
        "LOGITSERVE_LOG_LEVEL": "warning",
        "LOGITSERVE_RELOAD_INTERVAL_S": "0",
    }
    if CUDA in providers:
        env["LD_LIBRARY_PATH"] = nvidia_library_path()
    argv = [sys.executable, "-m", "service", "--models-dir", str(models_dir)]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
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


# -- the checks --------------------------------------------------------------------------------
def input_of(server: Server, model: str) -> tuple[str, list[int]]:
    status, meta = server.get(f"/v2/models/{model}")
    if status != 200:
        raise CheckFailed(f"{server.label}: model {model} is not served: {meta}")
    (tensor,) = meta["inputs"]
    return tensor["name"], tensor["shape"]


def check_provider(server: Server, model: str, expected: str) -> str:
    status, detail = server.get(f"/v1/models/{model}")
    if status != 200:
        raise CheckFailed(f"{server.label}: /v1/models/{model} answered {status}: {detail}")
    version = detail["versions"][0]
    if version["provider"] != expected:
        raise CheckFailed(
            f"{server.label}: {model} runs on {version['provider']}, not {expected} "
            f"({version.get('provider_fallback') or 'no reason given'})"
        )
    return f"{model} v{version['version']} on {version['provider']}"


def pixels(shape: list[int], rows: int, seed: int = 0) -> np.ndarray:
    """Deterministic uint8 inputs in the model's own shape (784 or 28x28 per row)."""
    return np.random.default_rng(seed).integers(0, 256, (rows, *shape[1:]), dtype=np.uint8)


def max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise CheckFailed(f"output shapes differ: {a.shape} and {b.shape}")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


@dataclass
class Timing:
    p50_ms: float
    p99_ms: float
    rows_per_s: float
    batch: int


def measure(server: Server, model: str, requests: int, batch: int, seconds: float) -> Timing:
    name, shape = input_of(server, model)
    conn = server.connect()
    try:
        body, headers = binary_request(name, pixels(shape, 1, seed=1))
        for _ in range(10):  # warm-up: connection, allocator, kernels
            infer(conn, model, body, headers)
        latencies = []
        for _ in range(requests):
            started = time.perf_counter()
            infer(conn, model, body, headers)
            latencies.append(time.perf_counter() - started)

        body, headers = binary_request(name, pixels(shape, batch, seed=2))
        infer(conn, model, body, headers)
        calls, started = 0, time.perf_counter()
        while calls < 3 or (time.perf_counter() - started < seconds and calls < 50):
            infer(conn, model, body, headers)
            calls += 1
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    p50, p99 = np.percentile(np.array(latencies) * 1000, [50, 99])
    return Timing(float(p50), float(p99), calls * batch / elapsed, batch)


def train_on_cuda(train_python: str, epochs: int) -> str:
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        models = Path(tmp) / "models"
        argv = [train_python, "-m", "training", "train", "mnist-cnn", "--device", "cuda"]
        argv += ["--epochs", str(epochs), "--models-dir", str(models)]
        argv += ["--checkpoint-dir", str(Path(tmp) / "checkpoints"), "--quiet"]
        started = time.monotonic()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1800)
        took = time.monotonic() - started
        if done.returncode != 0:
            raise CheckFailed(f"training on CUDA failed:\n{done.stdout}\n{done.stderr}")
        manifest = json.loads((models / "mnist-cnn" / "1" / "manifest.json").read_text())
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in manifest["metrics"].items())
        return f"mnist-cnn, {epochs} epochs with --device cuda in {took:.1f} s: {metrics}"


# -- the run -----------------------------------------------------------------------------------
def report_table(rows: list[tuple[str, str, Timing]]) -> str:
    lines = [
        "| model | provider | latency p50 ms | latency p99 ms | rows/s at batch |",
        "|---|---|---:|---:|---:|",
    ]
    for model, provider, t in rows:
        lines.append(
            f"| {model} | {provider} | {t.p50_ms:.2f} | {t.p99_ms:.2f} | "
            f"{t.rows_per_s:,.0f} @ {t.batch} |"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    import onnxruntime as ort

    print(f"onnxruntime {ort.__version__}: {', '.join(ort.get_available_providers())}")
    if not args.cuda:
        print("no NVIDIA GPU (or --cpu-only): running the CPU half only")
    elif CUDA not in ort.get_available_providers():
        raise CheckFailed(f"this onnxruntime has no {CUDA}: install onnxruntime-gpu")

    timings: list[tuple[str, str, Timing]] = []
    with serving("CPU", [CPU], args.models_dir) as cpu:
        for model in args.models:
            print("provider:", check_provider(cpu, model, CPU))
        if args.cuda:
            with serving("CUDA", [CUDA, CPU], args.models_dir) as cuda:
                for model in args.models:
                    print("provider:", check_provider(cuda, model, CUDA))
                for model in args.models:
                    name, shape = input_of(cpu, model)
                    batch = pixels(shape, 512)
                    diff = max_abs_difference(
                        predict(cuda, model, name, batch), predict(cpu, model, name, batch)
                    )
                    verdict = "ok" if diff <= args.tolerance else "TOO FAR"
                    print(
                        f"agreement: {model}: max |CUDA - CPU| = {diff:.2e} on 512 rows "
                        f"(<= {args.tolerance:g}: {verdict})"
                    )
                    if diff > args.tolerance:
                        raise CheckFailed(
                            f"{model}: CUDA and CPU probabilities differ by {diff:.2e} "
                            "(TF32 math on Ampere and later GPUs is the usual cause)"
                        )
                for model in args.models:
                    timings.append(
                        (model, CUDA, measure(cuda, model, args.requests, args.batch, args.seconds))
                    )
        for model in args.models:
            timings.append(
                (model, CPU, measure(cpu, model, args.requests, args.batch, args.seconds))
            )
    print()
    print(report_table(timings))
    print()
    if args.cuda:
        print("training:", train_on_cuda(args.train_python, args.epochs))
    print("gpu-check: all checks passed" + ("" if args.cuda else " (CPU half only)"))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="logitserve's GPU check (see gpu-check.sh)")
    parser.add_argument("--cuda", action="store_true", help="also run the CUDA half")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--models", nargs="+", default=["mnist", "mnist-cnn"])
    parser.add_argument("--tolerance", type=float, default=1e-4, help="on probabilities")
    parser.add_argument("--requests", type=int, default=200, help="single-row requests timed")
    parser.add_argument("--batch", type=int, default=4096, help="rows per throughput request")
    parser.add_argument("--seconds", type=float, default=3.0, help="throughput time per case")
    parser.add_argument("--epochs", type=int, default=3, help="CUDA training epochs")
    parser.add_argument("--train-python", default=sys.executable, help="interpreter with torch")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        run(args)
    except CheckFailed as failure:
        print(f"gpu-check: FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
