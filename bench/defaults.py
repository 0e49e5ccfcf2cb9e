"""`python -m bench.defaults`: what the defaults cost. The service as a user starts it (the
access log on, gRPC listening), with each of the two switched off, with both off, beside the
raw ASGI app that only reads the body (bench/sink_app.py: what HTTP alone costs in Python)
and, with `--previous DIR`, an earlier checkout's defaults on the same models. Every server
runs on core 0 and wrk on core 1; the rounds are interleaved and the figures are medians,
since this VM's speed drifts from minute to minute (issue 23's table)."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import payloads
from bench.__main__ import ALLOCATOR_ENV, has_grpc, median_run
from bench.runner import Result, baseline_argv, pinning, server, service_argv, wrk

ROOT = Path(__file__).resolve().parent.parent

CONFIGURATIONS: dict[str, tuple[str, ...]] = {
    "default (access log on, gRPC on)": (),
    "--no-access-log": ("--no-access-log",),
    "--grpc-port 0": ("--grpc-port", "0"),
    "--grpc-port 0 --no-access-log": ("--grpc-port", "0", "--no-access-log"),
}
SINK = "raw ASGI app, reads the body (sink)"
PREVIOUS = "previous code, default"


@dataclass(frozen=True)
class Load:
    name: str
    path: str
    payload: str
    connections: int
    samples: int


LOADS = [
    Load("v2 JSON single, 32 conn", "/v2/models/mnist/infer", "v2_single", 32, 1),
    Load("v1 JSON single, 32 conn", "/v1/models/mnist/predict", "v1_single", 32, 1),
    Load("v2 binary 1,024 rows, 4 conn", "/v2/models/mnist/infer", "v2_binary1024", 4, 1024),
]


def table(medians: dict[tuple[str, str], Result], targets: list[str]) -> list[str]:
    heads = " | ".join(f"{load.name}: req/s, CPU ms/req" for load in LOADS)
    lines = [
        f"| configuration | {heads} |",
        "|---|" + "---|" * len(LOADS),
    ]
    for target in targets:
        cells = []
        for load in LOADS:
            result = medians[(target, load.name)]
            cells.append(f"{result.rps:,.0f}, {result.cpu_ms_per_request:.3f}")
        lines.append(f"| {target} | " + " | ".join(cells) + " |")
    return lines


def ratios(medians: dict[tuple[str, str], Result], targets: list[str]) -> list[str]:
    default = next(iter(CONFIGURATIONS))
    stripped = list(CONFIGURATIONS)[-1]
    lines = ["", "| ratio of requests/s | " + " | ".join(load.name for load in LOADS) + " |"]
    lines.append("|---|" + "---|" * len(LOADS))
    pairs = [(default, stripped), (default, SINK), (stripped, SINK)]
    pairs += [(default, PREVIOUS)] if PREVIOUS in targets else []
    for top, bottom in pairs:
        cells = [
            f"{medians[(top, load.name)].rps / medians[(bottom, load.name)].rps:.2f}x"
            for load in LOADS
        ]
        lines.append(f"| {top} / {bottom} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.defaults", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians")
    parser.add_argument(
        "--previous",
        type=Path,
        help="a checkout of an earlier commit with its own .venv, run with its defaults",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    bodies = payloads.write_all(Path(tempfile.mkdtemp(prefix="bench-")))
    results: dict[tuple[str, str], list[Result]] = {}
    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(
                server(service_argv(args.models_dir, *flags), "/v2/health/ready")
            )
            for name, flags in CONFIGURATIONS.items()
        }
        # The sink gets the allocator settings the service gives itself (as in `python -m bench`).
        servers[SINK] = stack.enter_context(
            server(baseline_argv("bench.sink_app:app"), "/", ALLOCATOR_ENV)
        )
        if args.previous:
            python = str(args.previous / ".venv" / "bin" / "python")
            argv = service_argv(args.models_dir, python=python, grpc=has_grpc(args.previous))
            servers[PREVIOUS] = stack.enter_context(
                server(argv, "/v2/health/ready", cwd=args.previous)
            )
        for _ in range(args.rounds):
            for load in LOADS:
                for target, srv in servers.items():
                    body, headers = bodies[load.payload]
                    result = wrk(srv, load.path, body, headers, load.connections, args.duration)
                    if result.errors:
                        sys.exit(f"{target}, {load.name}: {result.errors} errors")
                    results.setdefault((target, load.name), []).append(result)
    medians = {key: median_run(runs) for key, runs in results.items()}
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; server on core 0, wrk on core 1: {pinning()}; "
        f"{datetime.date.today().isoformat()}; {args.duration:g} s a run, "
        f"{args.rounds} interleaved rounds, medians.\n"
    )
    print("\n".join(table(medians, list(servers)) + ratios(medians, list(servers))))


if __name__ == "__main__":
    main()
