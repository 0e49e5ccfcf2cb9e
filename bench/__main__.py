"""`python -m bench`: every scenario against the same-run baselines; prints a markdown report."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench import payloads, peers, session_options
from bench.runner import Result, baseline_argv, pinning, server, service_argv, wrk
from service.runtime.tuning import allocator_thresholds
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# glibc reads these at start-up: what the service sets with mallopt (service/runtime/tuning.py).
_TRIM, _MMAP = allocator_thresholds(Settings().allocator_keep_mib)
ALLOCATOR_ENV = {"MALLOC_TRIM_THRESHOLD_": str(_TRIM), "MALLOC_MMAP_THRESHOLD_": str(_MMAP)}


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


@dataclass(frozen=True)
class Scenario:
    name: str
    target: str  # which server: "baseline", "ceiling", "service", "no-batching"
    path: str
    payload: str
    connections: int
    samples: int
    compare_to: str | None = None  # the baseline scenario it is a ratio against


SCENARIOS = [
    Scenario(
        "baseline: FastAPI + json, constant reply, single, 32 conn",
        "baseline",
        "/v2/models/mnist/infer",
        "v2_single",
        32,
        1,
    ),
    Scenario(
        "baseline: FastAPI + json, constant reply, batch 64, 8 conn",
        "baseline",
        "/v2/models/mnist/infer",
        "v2_batch64",
        8,
        64,
    ),
    Scenario(
        "ceiling: raw ASGI reads the body, v2 JSON single, 32 conn",
        "ceiling",
        "/v2/models/mnist/infer",
        "v2_single",
        32,
        1,
    ),
    Scenario(
        "ceiling: raw ASGI reads the body, v2 JSON batch 64, 8 conn",
        "ceiling",
        "/v2/models/mnist/infer",
        "v2_batch64",
        8,
        64,
    ),
    Scenario(
        "ceiling: raw ASGI reads the body, binary batch 64, 8 conn",
        "ceiling",
        "/v2/models/mnist/infer",
        "v2_binary64",
        8,
        64,
    ),
    Scenario(
        "ceiling: raw ASGI reads the body, binary batch 1024, 8 conn",
        "ceiling",
        "/v2/models/mnist/infer",
        "v2_binary1024",
        8,
        1024,
    ),
    Scenario(
        "v1 JSON single, 32 conn",
        "service",
        "/v1/models/mnist/predict",
        "v1_single",
        32,
        1,
        "baseline: FastAPI + json, constant reply, single, 32 conn",
    ),
    Scenario(
        "v1 JSON batch 64, 8 conn",
        "service",
        "/v1/models/mnist/predict",
        "v1_batch64",
        8,
        64,
        "baseline: FastAPI + json, constant reply, batch 64, 8 conn",
    ),
    Scenario(
        "v2 JSON single, 32 conn",
        "service",
        "/v2/models/mnist/infer",
        "v2_single",
        32,
        1,
        "baseline: FastAPI + json, constant reply, single, 32 conn",
    ),
    Scenario(
        "v2 JSON batch 64, 8 conn",
        "service",
        "/v2/models/mnist/infer",
        "v2_batch64",
        8,
        64,
        "baseline: FastAPI + json, constant reply, batch 64, 8 conn",
    ),
    Scenario(
        "v2 binary batch 64, 8 conn",
        "service",
        "/v2/models/mnist/infer",
        "v2_binary64",
        8,
        64,
        "baseline: FastAPI + json, constant reply, batch 64, 8 conn",
    ),
    Scenario(
        "v2 binary batch 1024, 8 conn",
        "service",
        "/v2/models/mnist/infer",
        "v2_binary1024",
        8,
        1024,
    ),
    Scenario(
        "v1 image upload (PNG), 8 conn", "service", "/v1/models/mnist/predict/image", "image", 8, 1
    ),
]

# The peers on the same model (with --peers): each protocol each of them speaks.
PEER_SCENARIOS = [
    Scenario(f"{peers.PEERS[target].label} {name}", target, path, payload, connections, samples)
    for target, name, path, payload, connections, samples in (
        ("kserve", "V1 JSON single, 32 conn", "/v1/models/mnist:predict", "v1_single", 32, 1),
        ("kserve", "V1 JSON batch 64, 8 conn", "/v1/models/mnist:predict", "v1_batch64", 8, 64),
        ("kserve", "V2 JSON single, 32 conn", "/v2/models/mnist/infer", "v2_single", 32, 1),
        ("kserve", "V2 JSON batch 64, 8 conn", "/v2/models/mnist/infer", "v2_batch64", 8, 64),
        ("kserve", "V2 binary batch 64, 8 conn", "/v2/models/mnist/infer", "v2_binary64", 8, 64),
        ("mlserver", "V2 JSON single, 32 conn", "/v2/models/mnist/infer", "v2_single", 32, 1),
        ("mlserver", "V2 JSON batch 64, 8 conn", "/v2/models/mnist/infer", "v2_batch64", 8, 64),
        ("mosec", "JSON single, 32 conn", "/inference", "v1_single", 32, 1),
        ("mosec", "JSON batch 64, 8 conn", "/inference", "v1_batch64", 8, 64),
    )
]

MATRIX = [
    Scenario(f"{model} {conns} conn", target, f"/v2/models/{model}/infer", payload, conns, 1)
    for target in ("service", "no-batching")
    for model, payload in (("mnist", "v2_single"), ("mnist-cnn", "v2_single_cnn"))
    for conns in (1, 8, 32, 128)
]

# The service with one setting changed, against its defaults.
VARIANTS = {
    "glibc's allocator defaults": ["--allocator-keep-mib", "0"],
    # On one core, calls under 1 ms run on the event loop by default (service/runtime/tuning.py).
    "every call on the thread": ["--inline-call-us", "0"],
}
VARIED = [
    sc
    for sc in SCENARIOS
    if sc.target == "service"
    and sc.payload in ("v2_single", "v2_batch64", "v2_binary64", "v2_binary1024")
]
VARIANT_SCENARIOS = [replace(sc, target=variant) for variant in VARIANTS for sc in VARIED]


def median_run(results: list[Result]) -> Result:
    """The run with the median throughput (its latencies come with it)."""
    return sorted(results, key=lambda r: r.rps)[len(results) // 2]


def row(name: str, result: Result, samples: int, note: str = "") -> str:
    return (
        f"| {name} | {result.rps:,.0f} | {result.rps * samples:,.0f} | {result.p50_ms:.2f} | "
        f"{result.p99_ms:.2f} | {result.cpu_ms_per_request:.3f} | {result.errors} | {note} |"
    )


def best(medians: dict[tuple[str, str], Result], samples: int) -> tuple[Scenario, Result]:
    """The peers' fastest scenario with this many samples per request, among error-free runs."""
    runs = [
        (sc, medians[(sc.target, sc.name)])
        for sc in PEER_SCENARIOS
        if sc.samples == samples and not medians[(sc.target, sc.name)].errors
    ]
    return max(runs, key=lambda run: run[1].rps)


def against_peers(medians: dict[tuple[str, str], Result]) -> list[str]:
    """The peers' rows, then logitserve's against the fastest of them (the issue's goals)."""
    lines = ["", HEADER.replace("vs baseline", "note")]
    for sc in PEER_SCENARIOS:
        result = medians[(sc.target, sc.name)]
        lines.append(row(sc.name, result, sc.samples, "refused (non-2xx)" if result.errors else ""))
    lines += [
        "",
        "| logitserve | samples/s | the fastest peer, same request size | samples/s | ratio |",
        "|---|---|---|---|---|",
    ]
    for name in (
        "v2 JSON single, 32 conn",
        "v2 JSON batch 64, 8 conn",
        "v2 binary batch 64, 8 conn",
    ):
        ours = next(sc for sc in SCENARIOS if sc.name == name)
        peer, peer_result = best(medians, ours.samples)
        mine = medians[("service", name)].rps * ours.samples
        theirs = peer_result.rps * peer.samples
        lines.append(
            f"| {name} | {mine:,.0f} | {peer.name} | {theirs:,.0f} | {mine / theirs:.2f}x |"
        )
    return lines


HEADER = (
    "| scenario | requests/s | samples/s | p50 ms | p99 ms | server CPU ms/request | errors | "
    "vs baseline |\n|---|---|---|---|---|---|---|---|"
)


def against_previous(medians: dict[tuple[str, str], Result]) -> list[str]:
    lines = [
        "| scenario | now: samples/s, CPU ms/request | previous: samples/s, CPU ms/request "
        "| now/previous |",
        "|---|---|---|---|",
    ]
    for sc in SCENARIOS:
        if sc.target != "service":
            continue
        now, then = medians[("service", sc.name)], medians[("previous", sc.name)]
        lines.append(
            f"| {sc.name} | {now.rps * sc.samples:,.0f}, {now.cpu_ms_per_request:.3f} | "
            f"{then.rps * sc.samples:,.0f}, {then.cpu_ms_per_request:.3f} | "
            f"{now.rps / then.rps:.2f}x |"
        )
    return lines


def has_grpc(checkout: Path) -> bool:
    return (checkout / "service" / "grpc").is_dir()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds per scenario and round"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians reported"
    )
    parser.add_argument("--quick", action="store_true", help="skip the batching matrix")
    parser.add_argument(
        "--training",
        action="store_true",
        help="time an MNIST-MLP epoch instead (ours, and Keras with --keras-python)",
    )
    parser.add_argument("--keras-python", help="a Python with tensorflow, for the Keras epoch")
    parser.add_argument(
        "--previous",
        type=Path,
        help="a checkout of an earlier commit with its own .venv: its service runs every "
        "scenario beside this one's, in the same rounds",
    )
    parser.add_argument(
        "--peers",
        type=Path,
        help="the peers' environments (made by `python -m bench.peers DIR`): measure them too",
    )
    args = parser.parse_args()
    if args.training:
        from bench import training_epoch

        print("\n".join(training_epoch.report(args.keras_python)))
        return
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    bodies = payloads.write_all(Path(tempfile.mkdtemp(prefix="bench-")))
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; server on core 0, wrk on core 1: {pinning()}; "
        f"{datetime.date.today().isoformat()}; {args.duration:g} s per scenario, "
        f"{args.rounds} interleaved rounds, medians.",
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

    scenarios = SCENARIOS + ([] if args.quick else MATRIX + VARIANT_SCENARIOS)
    scenarios += PEER_SCENARIOS if args.peers else []
    scenarios += [replace(sc, target="previous") for sc in SCENARIOS] if args.previous else []
    results: dict[tuple[str, str], list[Result]] = {}
    # All servers up at once, each scenario's rounds interleaved with the others': this VM's
    # speed drifts from minute to minute, and a ratio is only fair between neighbours in time.
    with contextlib.ExitStack() as stack:
        servers = {
            "baseline": stack.enter_context(server(baseline_argv(), "/docs")),
            # The ceiling gets the allocator settings the service gives itself, so that it
            # stays a ceiling; the FastAPI baseline stays as anyone would run it.
            "ceiling": stack.enter_context(
                server(baseline_argv("bench.sink_app:app"), "/", ALLOCATOR_ENV)
            ),
            "service": stack.enter_context(
                server(service_argv(args.models_dir), "/v2/health/ready")
            ),
        }
        ready_s, rss = servers["service"].ready_s, servers["service"].rss_mb()
        if args.previous:
            python = str(args.previous / ".venv" / "bin" / "python")
            # The same models as this checkout's: the comparison is of the code alone.
            argv = service_argv(args.models_dir, python=python, grpc=has_grpc(args.previous))
            servers["previous"] = stack.enter_context(
                server(argv, "/v2/health/ready", cwd=args.previous)
            )
        for name, peer in peers.PEERS.items() if args.peers else ():
            onnx = {"BENCH_MODEL": str(args.models_dir / "mnist" / "1" / "model.onnx")}
            servers[name] = stack.enter_context(
                server(peers.argv(args.peers, name), peer.ready_path, onnx)
            )
        if not args.quick:
            servers["no-batching"] = stack.enter_context(
                server(service_argv(args.models_dir, "--no-batching"), "/v2/health/ready")
            )
            for variant, flags in VARIANTS.items():
                servers[variant] = stack.enter_context(
                    server(service_argv(args.models_dir, *flags), "/v2/health/ready")
                )
        for _ in range(args.rounds):
            for sc in scenarios:
                result = wrk(
                    servers[sc.target], sc.path, *bodies[sc.payload], sc.connections, args.duration
                )
                results.setdefault((sc.target, sc.name), []).append(result)
        rss_after = servers["service"].rss_mb()
    with server(service_argv(args.models_dir, "--workers", "2"), "/v2/health/ready") as two:
        time.sleep(3)  # both workers up and loaded
        rss_two = two.rss_mb(children=True)

    medians = {key: median_run(runs) for key, runs in results.items()}
    by_name = {
        name: (result, sc)
        for sc in SCENARIOS
        for (t, name), result in medians.items()
        if name == sc.name and t == sc.target
    }
    lines += ["", HEADER]
    for sc in SCENARIOS:
        result, _ = by_name[sc.name]
        note = ""
        if sc.compare_to:
            base, base_sc = by_name[sc.compare_to]
            ratio = result.rps * sc.samples / (base.rps * base_sc.samples)
            note = f"{ratio:.2f}x samples/s"
        lines.append(row(sc.name, result, sc.samples, note))
    lines += [
        "",
        f"Ready {ready_s:.2f} s after start; resident memory {rss:.0f} MB with every "
        f"model in {args.models_dir.name}/ loaded, {rss_after:.0f} MB after the runs above; "
        f"with --workers 2, {rss_two:.0f} MB for the supervisor and both workers together.",
    ]
    if args.previous:
        lines += ["", f"This code against {args.previous} (same rounds, medians):", ""]
        lines += against_previous(medians)
    if args.peers:
        lines += ["", "The issue's peers on the same model, same run (medians):"]
        lines += against_peers(medians)
    if not args.quick:
        lines += [
            "",
            "Dynamic batching, v2 JSON single requests (medians of interleaved rounds):",
            "",
            "| model | connections | batching on: req/s, p99 ms | off: req/s, p99 ms | on/off |",
            "|---|---|---|---|---|",
        ]
        for model in ("mnist", "mnist-cnn"):
            for conns in (1, 8, 32, 128):
                on = medians[("service", f"{model} {conns} conn")]
                off = medians[("no-batching", f"{model} {conns} conn")]
                lines.append(
                    f"| {model} | {conns} | {on.rps:,.0f}, {on.p99_ms:.2f} | "
                    f"{off.rps:,.0f}, {off.p99_ms:.2f} | {on.rps / off.rps:.2f}x |"
                )
        lines += [
            "",
            "One setting changed (medians of interleaved rounds): req/s, server CPU ms/request",
            "",
            "| scenario | defaults | " + " | ".join(VARIANTS) + " |",
            "|---|---|" + "---|" * len(VARIANTS),
        ]
        for sc in VARIED:
            cells = [medians[("service", sc.name)]] + [medians[(v, sc.name)] for v in VARIANTS]
            default_rps = cells[0].rps
            lines.append(
                f"| {sc.name} | "
                + " | ".join(
                    f"{c.rps:,.0f}, {c.cpu_ms_per_request:.3f}"
                    + ("" if c is cells[0] else f" ({c.rps / default_rps:.2f}x)")
                    for c in cells
                )
                + " |"
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
