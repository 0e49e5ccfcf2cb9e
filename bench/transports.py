"""`python -m bench.transports`: gRPC against HTTP on the same server, and against KServe's
gRPC server on the same model and core, in one run (the issue's goals: gRPC at batch 64 at
least as fast as HTTP's binary tensors; single requests at least twice KServe's gRPC).

logitserve serves HTTP and gRPC from one process, pinned to core 0 like every bench server;
the load generators run on core 1: wrk for HTTP, h2load (nghttp2's HTTP/2 load generator,
`apt-get install nghttp2-client`) for gRPC, posting a ready-made gRPC frame to
/inference.GRPCInferenceService/ModelInfer. Both are C programs, so the client costs each
protocol alike. Every body is first sent once through a real gRPC call and its answer
checked: h2load counts HTTP statuses and cannot see a gRPC error in the trailers. Each
request asks for the probabilities alone, as the HTTP binary payload does and as KServe's
app returns them.

With `--peers DIR` (made by `python -m bench.peers DIR`; only DIR/kserve is used here),
KServe's ModelServer serves the same ONNX model over its own gRPC server.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np

from bench import payloads, peers
from bench.runner import (
    CLIENT_CPU,
    SERVER_CPU,
    Result,
    Server,
    _pinned,
    free_port,
    pinning,
    server,
    service_argv,
    wrk,
)
from service.grpc.generated import grpc_service_pb2 as pb

ROOT = Path(__file__).resolve().parent.parent
INFER = "/inference.GRPCInferenceService/ModelInfer"


@dataclass(frozen=True)
class Scenario:
    name: str
    target: str  # "logitserve", "kserve", "grpcio" or "grpcio-sync" (bench/grpc_sink.py)
    protocol: str  # "http" or "grpc"
    rows: int
    connections: int


SCENARIOS = [
    Scenario(f"{who} {protocol} {label}, {conns} conn", who, protocol, rows, conns)
    for rows, label, conns in ((1, "single", 32), (64, "batch 64", 8))
    for who, protocol in (
        ("logitserve", "http"),
        ("logitserve", "grpc"),
        ("kserve", "grpc"),
        ("grpcio", "grpc"),
        ("grpcio-sync", "grpc"),
    )
]


def grpc_frame(rows: int) -> bytes:
    """A ModelInferRequest for `rows` MNIST rows as raw_input_contents, framed as gRPC sends
    it: a zero byte (not compressed), the length (4 bytes, big-endian), the message."""
    pixels = payloads.digits(rows)
    request = pb.ModelInferRequest(model_name="mnist", raw_input_contents=[pixels.tobytes()])
    request.inputs.add(name="pixels", datatype="UINT8", shape=[rows, 784])
    request.outputs.add(name="probabilities")
    message = request.SerializeToString()
    return b"\x00" + struct.pack(">I", len(message)) + message


def check_grpc(target: str, frame: bytes, rows: int) -> None:
    """One real call with the body h2load will send: an answer of `rows` probabilities."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(
            INFER,
            request_serializer=lambda body: body,
            response_deserializer=pb.ModelInferResponse.FromString,
        )
        response = call(frame[5:], timeout=30)
    probabilities = np.frombuffer(response.raw_output_contents[0], dtype="<f4")
    if probabilities.size != rows * 10 or not np.allclose(
        probabilities.reshape(rows, 10).sum(1), 1
    ):
        raise RuntimeError(f"{target} answered {response.outputs} for {rows} rows")


def h2load(srv: Server, target: str, frame: Path, connections: int, duration: float) -> Result:
    """gRPC load: `connections` connections, one call in flight on each (as wrk's)."""
    log = Path(tempfile.mkstemp(prefix="h2load-", suffix=".log")[1])

    def run(seconds: float) -> str:
        argv = [
            "h2load",
            "-t1",
            f"-c{connections}",
            "-m1",
            f"-D{max(1, round(seconds))}",
            f"--log-file={log}",
            f"--data={frame}",
            "-H",
            "content-type: application/grpc",
            "-H",
            "te: trailers",
            f"http://{target}{INFER}",
        ]
        return subprocess.run(
            _pinned(CLIENT_CPU, argv), capture_output=True, text=True, check=True
        ).stdout

    run(1)  # warm-up, as for wrk
    cpu_before = srv.cpu_seconds()
    out = run(duration)
    cpu = srv.cpu_seconds() - cpu_before
    rows = [line.split("\t") for line in log.read_text().splitlines() if line.strip()]
    log.unlink()
    latencies = np.array([int(r[2]) for r in rows], dtype=np.float64) / 1000
    ok = [r for r in rows if r[1].startswith("2")]
    requests = len(rows)
    # The duration h2load measured (the log's first start to the last start).
    starts = np.array([int(r[0]) for r in rows], dtype=np.float64)
    seconds = (starts.max() - starts.min()) / 1e6 if requests > 1 else duration
    if "succeeded" not in out:
        raise RuntimeError(f"h2load said: {out[-500:]}")
    return Result(
        requests=requests,
        seconds=seconds,
        errors=requests - len(ok),
        p50_ms=float(np.percentile(latencies, 50)) if requests else 0.0,
        p99_ms=float(np.percentile(latencies, 99)) if requests else 0.0,
        cpu_ms_per_request=cpu * 1000 / max(requests, 1),
    )


@contextlib.contextmanager
def logitserve(models_dir: Path, grpc_port: int) -> Iterator[Server]:
    with server(service_argv(models_dir, "--grpc-port", str(grpc_port)), "/v2/health/ready") as srv:
        yield srv


@contextlib.contextmanager
def kserve(folder: Path, models_dir: Path, grpc_port: int) -> Iterator[Server]:
    argv = [*peers.argv(folder, "kserve"), "--grpc-port", str(grpc_port)]
    env = {"BENCH_MODEL": str(models_dir / "mnist" / "1" / "model.onnx")}
    with server(argv, peers.PEERS["kserve"].ready_path, env) as srv:
        yield srv


@contextlib.contextmanager
def grpcio_sink(grpc_port: int, sync: bool = False) -> Iterator[Server]:
    """bench/grpc_sink.py on core 0, once its port answers a real call."""
    argv = [sys.executable, "-m", "bench.grpc_sink", str(grpc_port), *(["--sync"] if sync else [])]
    process = subprocess.Popen(_pinned(SERVER_CPU, argv), stdout=subprocess.DEVNULL)
    started = time.perf_counter()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
        yield Server(process, f"grpc://127.0.0.1:{grpc_port}", time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait(timeout=10)


def start(
    target: str, args: argparse.Namespace, port: int
) -> contextlib.AbstractContextManager[Server]:
    if target == "logitserve":
        return logitserve(args.models_dir, port)
    if target == "kserve":
        return kserve(args.peers, args.models_dir, port)
    return grpcio_sink(port, sync=target == "grpcio-sync")


def measure(
    scenario: Scenario,
    srv: Server,
    grpc_target: str,
    bodies: dict[str, tuple[Path, dict[str, str]]],
    frames: dict[int, Path],
    duration: float,
) -> Result:
    rows, connections = scenario.rows, scenario.connections
    if scenario.protocol == "http":
        path, headers = bodies[f"v2_binary{rows}"]
        return wrk(srv, "/v2/models/mnist/infer", path, headers, connections, duration)
    return h2load(srv, grpc_target, frames[rows], connections, duration)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.transports", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians")
    parser.add_argument("--peers", type=Path, help="the peers' environments (KServe's is used)")
    args = parser.parse_args()
    for tool in ("wrk", "h2load"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed: apt-get install wrk nghttp2-client")
    folder = Path(tempfile.mkdtemp(prefix="bench-transports-"))
    bodies = payloads.write_all(folder)
    frames = {rows: folder / f"grpc{rows}.bin" for rows in (1, 64)}
    for rows, path in frames.items():
        path.write_bytes(grpc_frame(rows))
    targets = ["logitserve", "grpcio", "grpcio-sync"] + (["kserve"] if args.peers else [])
    runs: dict[str, list[Result]] = {sc.name: [] for sc in SCENARIOS if sc.target in targets}
    for _ in range(args.rounds):
        for target in targets:
            port = free_port()
            started = start(target, args, port)
            with started as srv:
                grpc_target = f"127.0.0.1:{port}"
                for rows, path in frames.items():
                    check_grpc(grpc_target, path.read_bytes(), rows)
                for sc in SCENARIOS:
                    if sc.target == target:
                        result = measure(sc, srv, grpc_target, bodies, frames, args.duration)
                        runs[sc.name].append(result)
    medians = {name: sorted(r, key=lambda x: x.rps)[len(r) // 2] for name, r in runs.items()}
    print("\n".join(report(medians, args)))


def report(medians: dict[str, Result], args: argparse.Namespace) -> list[str]:
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; servers on core 0, wrk/h2load on core 1: "
        f"{pinning()}; {datetime.date.today().isoformat()}; {args.duration:g} s per run, "
        f"{args.rounds} interleaved rounds, medians.",
        "",
        "| scenario | requests/s | samples/s | p50 ms | p99 ms | server CPU ms/request | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for sc in SCENARIOS:
        if sc.name in medians:
            r = medians[sc.name]
            lines.append(
                f"| {sc.name} | {r.rps:,.0f} | {r.rps * sc.rows:,.0f} | {r.p50_ms:.2f} | "
                f"{r.p99_ms:.2f} | {r.cpu_ms_per_request:.3f} | {r.errors} |"
            )
    lines += ["", "| goal | ours | against | ratio |", "|---|---|---|---|"]

    def ratio(goal: str, ours: str, theirs: str) -> None:
        if ours in medians and theirs in medians:
            a, b = medians[ours].rps, medians[theirs].rps
            lines.append(f"| {goal} | {a:,.0f} req/s | {b:,.0f} req/s | {a / b:.2f}x |")

    ratio(
        "gRPC batch 64 >= HTTP binary batch 64",
        "logitserve grpc batch 64, 8 conn",
        "logitserve http batch 64, 8 conn",
    )
    ratio(
        "gRPC single vs HTTP binary single",
        "logitserve grpc single, 32 conn",
        "logitserve http single, 32 conn",
    )
    ratio(
        "gRPC single >= 2x KServe's gRPC",
        "logitserve grpc single, 32 conn",
        "kserve grpc single, 32 conn",
    )
    ratio(
        "gRPC batch 64 vs KServe's gRPC",
        "logitserve grpc batch 64, 8 conn",
        "kserve grpc batch 64, 8 conn",
    )
    ratio(
        "gRPC single vs a bare grpcio server's constant",
        "logitserve grpc single, 32 conn",
        "grpcio grpc single, 32 conn",
    )
    ratio(
        "grpcio's sync server (8 threads) vs its aio server, both bare",
        "grpcio-sync grpc single, 32 conn",
        "grpcio grpc single, 32 conn",
    )
    ours, bare = "logitserve grpc single, 32 conn", "grpcio grpc single, 32 conn"
    if ours in medians and bare in medians:
        extra = medians[ours].cpu_ms_per_request - medians[bare].cpu_ms_per_request
        lines += ["", f"CPU a gRPC call beyond the bare grpcio server's: {extra:.3f} ms (single)."]
    return lines


if __name__ == "__main__":
    main()
