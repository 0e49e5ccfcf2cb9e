"""`python -m bench.workers`: requests per second of `--workers 2` against one worker, on a
single-row v2 JSON request with 64 connections (wrk), on this machine's cores.

Nothing is pinned: the workers need every core, and wrk shares them, as a client on the same
machine does. Runs alternate between the two settings, and each figure is the median of the
runs, so a noisy neighbour affects both alike. Prints a Markdown table and one JSON line."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from bench import payloads
from bench.runner import Result, server, service_argv, wrk

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    body, headers = payloads.bodies()["v2_single"]
    results: dict[int, list[Result]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "v2_single.body"
        path.write_bytes(body)
        for _ in range(args.runs):
            for workers in (1, 2):
                argv = service_argv(args.models_dir, "--workers", str(workers))
                with server(argv, "/v2/health/ready", pin=False) as srv:
                    results[workers].append(
                        wrk(
                            srv,
                            "/v2/models/mnist/infer",
                            path,
                            headers,
                            args.connections,
                            args.seconds,
                            pin=False,
                        )
                    )
    rps = {w: statistics.median(r.rps for r in runs) for w, runs in results.items()}
    p99 = {w: statistics.median(r.p99_ms for r in runs) for w, runs in results.items()}
    errors = {w: sum(r.errors for r in runs) for w, runs in results.items()}
    print(f"{os.cpu_count()} CPUs, v2 single-row JSON, {args.connections} connections, wrk -t1")
    print("| workers | requests/s (median of runs) | p99 ms | errors | runs (requests/s) |")
    print("|---|---|---|---|---|")
    for w in (1, 2):
        runs = ", ".join(f"{r.rps:.0f}" for r in results[w])
        print(f"| {w} | {rps[w]:.0f} | {p99[w]:.1f} | {errors[w]} | {runs} |")
    print(f"ratio 2 workers / 1: {rps[2] / rps[1]:.2f}")
    print(json.dumps({"rps": rps, "p99_ms": p99, "errors": errors, "ratio": rps[2] / rps[1]}))


if __name__ == "__main__":
    main()
