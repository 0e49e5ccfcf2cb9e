"""`python -m bench`: every scenario against the same-run baselines; prints a markdown report."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import payloads, session_options
from bench.runner import Result, baseline_argv, pinning, server, service_argv, wrk

ROOT = Path(__file__).resolve().parent.parent


def raw_onnxruntime(models_dir: Path, seconds: float = 1.5) -> dict[int, float]:
    """Samples/s of InferenceSession.run in process, one thread: the bound under all of it."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(models_dir / "mnist" / "1" / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    name = session.get_inputs()[0].name
    rates = {}
    for batch in (1, 64, 1024):
        x = np.random.default_rng(0).integers(0, 256, (batch, 784), dtype=np.uint8)
        for _ in range(20):
            session.run(None, {name: x})
        calls, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            session.run(None, {name: x})
            calls += 1
        rates[batch] = calls * batch / (time.perf_counter() - started)
    return rates


def row(name: str, result: Result, samples: int, note: str = "") -> str:
    return (
        f"| {name} | {result.rps:,.0f} | {result.rps * samples:,.0f} | {result.p50_ms:.2f} | "
        f"{result.p99_ms:.2f} | {result.cpu_ms_per_request:.3f} | {result.errors} | {note} |"
    )


HEADER = (
    "| scenario | requests/s | samples/s | p50 ms | p99 ms | server CPU ms/request | errors | "
    "vs baseline |\n|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per scenario")
    parser.add_argument("--quick", action="store_true", help="skip the batching matrix")
    parser.add_argument(
        "--training",
        action="store_true",
        help="time an MNIST-MLP epoch instead (ours, and Keras with --keras-python)",
    )
    parser.add_argument("--keras-python", help="a Python with tensorflow, for the Keras epoch")
    args = parser.parse_args()
    if args.training:
        from bench import training_epoch

        print("\n".join(training_epoch.report(args.keras_python)))
        return
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    bodies = payloads.write_all(Path(tempfile.mkdtemp(prefix="bench-")))
    d = args.duration

    def body(name: str) -> tuple[Path, dict[str, str]]:
        return bodies[name]

    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; server on core 0, wrk on core 1: {pinning()}; "
        f"{datetime.date.today().isoformat()}; {d:g} s per scenario.",
        "",
    ]
    raw = raw_onnxruntime(args.models_dir)
    lines.append(
        "Raw ONNX Runtime, in process, one thread (mnist MLP): "
        + ", ".join(f"batch {b}: {r:,.0f} samples/s" for b, r in raw.items())
    )
    lines += [
        "",
        "ONNX Runtime session options, samples/s in process (the service uses the first):",
        "",
    ]
    lines += session_options.table(args.models_dir)
    lines += ["", HEADER]

    with server(baseline_argv(), "/docs") as base:
        b_single = wrk(base, "/v2/models/mnist/infer", *body("v2_single"), 32, d)
        b_batch = wrk(base, "/v2/models/mnist/infer", *body("v2_batch64"), 8, d)
    lines.append(row("baseline: FastAPI + json, constant reply, single, 32 conn", b_single, 1))
    lines.append(row("baseline: FastAPI + json, constant reply, batch 64, 8 conn", b_batch, 64))

    with server(service_argv(args.models_dir), "/v2/health/ready") as srv:
        ready_s, rss = srv.ready_s, srv.rss_mb()
        runs = [
            ("v1 JSON single, 32 conn", "/v1/models/mnist/predict", "v1_single", 32, 1, b_single),
            ("v1 JSON batch 64, 8 conn", "/v1/models/mnist/predict", "v1_batch64", 8, 64, b_batch),
            ("v2 JSON single, 32 conn", "/v2/models/mnist/infer", "v2_single", 32, 1, b_single),
            ("v2 JSON batch 64, 8 conn", "/v2/models/mnist/infer", "v2_batch64", 8, 64, b_batch),
            ("v2 binary batch 64, 8 conn", "/v2/models/mnist/infer", "v2_binary64", 8, 64, b_batch),
            (
                "v2 binary batch 1024, 8 conn",
                "/v2/models/mnist/infer",
                "v2_binary1024",
                8,
                1024,
                None,
            ),
            (
                "v1 image upload (PNG), 8 conn",
                "/v1/models/mnist/predict/image",
                "image",
                8,
                1,
                None,
            ),
        ]
        for name, path, payload, conns, samples, baseline in runs:
            result = wrk(srv, path, *body(payload), conns, d)
            note = ""
            if baseline is not None:
                base_rate = baseline.rps * (64 if baseline is b_batch else 1)
                note = f"{result.rps * samples / base_rate:.2f}x samples/s"
            lines.append(row(name, result, samples, note))
        rss_after = srv.rss_mb()
    with server(service_argv(args.models_dir, "--workers", "2"), "/v2/health/ready") as two:
        time.sleep(3)  # both workers up and loaded
        rss_two = two.rss_mb(children=True)
    lines += [
        "",
        f"Ready {ready_s:.2f} s after start; resident memory {rss:.0f} MB with every "
        f"model in {args.models_dir.name}/ loaded, {rss_after:.0f} MB after the runs above; "
        f"with --workers 2, {rss_two:.0f} MB for the supervisor and both workers together.",
    ]

    if not args.quick:
        lines += [
            "",
            "Dynamic batching, v2 JSON single requests:",
            "",
            "| model | connections | batching on: req/s, p99 ms | off: req/s, p99 ms | on/off |",
            "|---|---|---|---|---|",
        ]
        results: dict[tuple[str, int, bool], Result] = {}
        for batching in (True, False):
            options = () if batching else ("--no-batching",)
            with server(service_argv(args.models_dir, *options), "/v2/health/ready") as srv:
                for model, payload in (("mnist", "v2_single"), ("mnist-cnn", "v2_single_cnn")):
                    for conns in (1, 8, 32, 128):
                        results[(model, conns, batching)] = wrk(
                            srv, f"/v2/models/{model}/infer", *body(payload), conns, d
                        )
        for model in ("mnist", "mnist-cnn"):
            for conns in (1, 8, 32, 128):
                on, off = results[(model, conns, True)], results[(model, conns, False)]
                lines.append(
                    f"| {model} | {conns} | {on.rps:,.0f}, {on.p99_ms:.2f} | "
                    f"{off.rps:,.0f}, {off.p99_ms:.2f} | {on.rps / off.rps:.2f}x |"
                )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
