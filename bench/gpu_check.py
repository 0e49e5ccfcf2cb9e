"""`python -m bench.gpu_check [--cuda] ...`: does logitserve really run on an NVIDIA GPU, agree
with the CPU, and when is the GPU worth it? scripts/gpu-check.sh sets up the interpreters.

With --cuda, on the shipped models (or --models-dir):
1. ONNX Runtime alone: CUDA and CPU logits agree on 1,000 held-out inputs per model
   (max |diff| <= --tolerance, TF32 off), and the median time of a call per batch size on
   CUDA and on the CPU (one thread, as the service runs, and all cores);
2. the service on CUDA: every model reports CUDAExecutionProvider in metadata and /metrics,
   v1 JSON, image upload and v2 binary answer, and its probabilities and logits agree with
   a CPU service's over HTTP;
3. v2 binary latency and throughput per batch size: CPU service, CUDA service with small
   calls on the CPU (the default), CUDA service with every call on CUDA, the same with
   cuDNN's exhaustive algorithm search; and the first request at batch sizes the service
   has not run yet (what dynamic batching costs on CUDA);
4. mnist-cnn trained on CUDA and on the CPU (seconds per epoch, parity of the exported ONNX),
   a 2-process torchrun on the GPU that publishes a version, and the service serving it on
   CUDA.
Without --cuda it runs the CPU side of 2 and 3 only, and says so. Exit status 1 when a check
fails. Everything measured is also written to --out as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench import gpu_inprocess as alone
from bench.gpu_http import (
    CPU,
    CUDA,
    ROOT,
    CheckFailed,
    Server,
    check_provider,
    check_routes,
    input_of,
    predict,
    serving,
    time_batches,
    time_new_shapes,
)
from bench.gpu_train import train_checks

SIZES = [1, 64, 1024, 4096]
# Batch sizes that neither warm-up nor the crossover measurement has run.
NEW_SIZES = [3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 17, 24, 33, 48, 65, 100, 129, 200, 255]
CUDA_VARIANTS: dict[str, dict[str, str]] = {
    "CUDA, small calls on CPU": {},
    "CUDA only": {"LOGITSERVE_CPU_BELOW_ROWS": "0"},
    "CUDA only, exhaustive cuDNN search": {
        "LOGITSERVE_CPU_BELOW_ROWS": "0",
        "LOGITSERVE_CUDA_CONV_ALGO_SEARCH": "EXHAUSTIVE",
    },
}
CROSSOVER_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096]


def held_out_inputs(args: argparse.Namespace, models: list[str]) -> dict[str, np.ndarray]:
    """Made by the training interpreter (it has the data sets), unless --heldout names a file."""
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        path = args.heldout or Path(tmp) / "heldout.npz"
        if not path.exists():
            command = [args.train_python, "-m", "bench.gpu_heldout", str(path), *models]
            subprocess.run(command, cwd=ROOT, check=True, timeout=600)
        with np.load(path) as data:
            return {m: data[f"{m}/x"] for m in models}


def png_of(pixels: np.ndarray) -> bytes:
    """A held-out digit as a user would upload it: dark ink on white, four times larger."""
    import io

    from PIL import Image

    ink = 255 - pixels.reshape(28, -1)
    image = Image.fromarray(ink).resize((ink.shape[1] * 4, ink.shape[0] * 4))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def compare_over_http(cuda: Server, cpu: Server, model: str, x: np.ndarray) -> dict[str, float]:
    name, _ = input_of(cpu, model)
    diffs = {}
    for output in ("logits", "probabilities"):
        a, b = predict(cuda, model, name, x, output), predict(cpu, model, name, x, output)
        diffs[output] = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
    return diffs


def run(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """The checks in order; what they measure goes into `report` as they go."""
    import onnxruntime as ort

    report |= {"onnxruntime": ort.__version__, "cpus": os.cpu_count()}
    print(f"onnxruntime {ort.__version__}: {', '.join(ort.get_available_providers())}")
    if not args.cuda:
        print("no NVIDIA GPU (or --cpu-only): running the CPU half only")
    elif CUDA not in ort.get_available_providers():
        raise CheckFailed(f"this onnxruntime has no {CUDA}: install onnxruntime-gpu")
    inputs = held_out_inputs(args, args.models)
    if args.cuda and not args.skip_in_process:
        check_alone(args, inputs, report)
    check_services(args, inputs, report)
    if args.cuda and not args.skip_training:
        report["training"] = train_checks(args.train_python, args.epochs, serve_check)
    report["containers"] = {e: shutil.which(e) for e in ("docker", "podman")}
    print("container engines:", report["containers"])


def timed_models(args: argparse.Namespace) -> list[str]:
    return [m for m in ("mnist", "mnist-cnn") if m in args.models]


def check_alone(
    args: argparse.Namespace, inputs: dict[str, np.ndarray], report: dict[str, Any]
) -> None:
    """ONNX Runtime alone: CUDA and CPU logits agree; ms per call by batch size."""
    report["agreement"] = []
    for model in args.models:
        path, _ = alone.latest(args.models_dir, model)
        a = alone.agreement(
            model, alone.session(path, CUDA), alone.session(path, CPU), inputs[model]
        )
        report["agreement"].append(vars(a))
        verdict = "ok" if a.max_abs_diff <= args.tolerance else "TOO FAR"
        print(
            f"agreement (ONNX Runtime alone): {model}: max |CUDA - CPU| logits = "
            f"{a.max_abs_diff:.2e} on {a.rows} held-out rows, same class {a.same_argmax:.1%} "
            f"({verdict})"
        )
    threads = [1, os.cpu_count() or 1]
    report["in_process_ms"] = {
        m: alone.time_providers(args.models_dir, m, CROSSOVER_SIZES, args.seconds / 4, threads)
        for m in timed_models(args)
    }
    print_in_process(report["in_process_ms"])
    for entry in report["agreement"]:
        if entry["max_abs_diff"] > args.tolerance:
            raise CheckFailed(f"{entry['model']}: CUDA and CPU logits differ too much")


def check_services(
    args: argparse.Namespace, inputs: dict[str, np.ndarray], report: dict[str, Any]
) -> None:
    """A CPU service, and with --cuda each CUDA variant beside it: providers, routes,
    agreement over HTTP, new batch sizes, v2 binary timings."""
    report["http"] = {}
    with serving("CPU", [CPU], args.models_dir) as cpu:
        for model in args.models:
            print("provider:", check_provider(cpu, model, CPU))
        report["http"]["CPU"] = http_timings(cpu, timed_models(args), args.seconds)
        for label, env in CUDA_VARIANTS.items() if args.cuda else ():
            with serving(label, [CUDA, CPU], args.models_dir, env) as cuda:
                check_cuda_service(args, inputs, report, label, cuda, cpu)
    print_http(report["http"])


def check_cuda_service(
    args: argparse.Namespace,
    inputs: dict[str, np.ndarray],
    report: dict[str, Any],
    label: str,
    cuda: Server,
    cpu: Server,
) -> None:
    new_shapes = {m: time_new_shapes(cuda, m, NEW_SIZES) for m in timed_models(args)}
    report.setdefault("new_shapes_ms", {})[label] = new_shapes
    for model, times in new_shapes.items():
        print(
            f"first request at {len(times)} new batch sizes ({label}): {model}: "
            f"median {np.median(times):.2f} ms, max {max(times):.2f} ms"
        )
    for model in args.models:
        print(f"provider ({label}):", check_provider(cuda, model, CUDA))
        image = png_of(inputs[model][0]) if inputs[model].dtype == np.uint8 else None
        print("routes:", check_routes(cuda, model, inputs[model][0].tolist(), image))
        diffs = compare_over_http(cuda, cpu, model, inputs[model])
        report.setdefault("http_agreement", {})[f"{label}/{model}"] = diffs
        print(
            f"agreement over HTTP: {model}: logits {diffs['logits']:.2e}, "
            f"probabilities {diffs['probabilities']:.2e}"
        )
        if diffs["logits"] > args.tolerance:
            raise CheckFailed(f"{model}: CUDA and CPU logits differ over HTTP")
    report["http"][label] = http_timings(cuda, timed_models(args), args.seconds)


def serve_check(models_dir: Path) -> str:
    """The service serves a freshly published mnist-cnn on CUDA and answers a prediction."""
    with serving("CUDA", [CUDA, CPU], models_dir) as cuda:
        said = check_provider(cuda, "mnist-cnn", CUDA)
        name, shape = input_of(cuda, "mnist-cnn")
        rows = np.random.default_rng(0).integers(0, 256, (4, *shape[1:]), dtype=np.uint8)
        probabilities = predict(cuda, "mnist-cnn", name, rows)
        if not np.allclose(probabilities.sum(axis=1), 1, atol=1e-4):
            raise CheckFailed("the torchrun-trained model's probabilities do not sum to 1")
        return said


def http_timings(server: Server, models: list[str], seconds: float) -> dict[str, list[dict]]:
    out = {}
    for model in models:
        _, shape = input_of(server, model)
        batches = {
            rows: np.random.default_rng(rows).integers(0, 256, (rows, *shape[1:]), dtype=np.uint8)
            for rows in SIZES
        }
        out[model] = [vars(t) for t in time_batches(server, model, batches, seconds)]
    return out


def print_in_process(table: dict[str, dict[str, dict[int, tuple[float, float]]]]) -> None:
    print("\nONNX Runtime alone, ms per call: median (first call at that size)")
    for model, variants in table.items():
        labels = list(variants)
        print(f"| {model} rows | " + " | ".join(labels) + " |")
        print("|---:|" + "---:|" * len(labels))
        for rows in next(iter(variants.values())):
            cells = " | ".join(
                f"{variants[label][rows][1]:.3f} ({variants[label][rows][0]:.1f})"
                for label in labels
            )
            print(f"| {rows} | {cells} |")


def print_http(table: dict[str, dict[str, list[dict]]]) -> None:
    print("\nv2 binary over HTTP, one connection: p50 ms / p99 ms / rows per s")
    print("| model | rows | " + " | ".join(table) + " |")
    print("|---|---:|" + "---|" * len(table))
    models = next(iter(table.values()))
    for model, timings in models.items():
        for i, t in enumerate(timings):
            cells = []
            for variant in table.values():
                v = variant[model][i]
                cells.append(f"{v['p50_ms']:.2f} / {v['p99_ms']:.2f} / {v['rows_per_s']:,.0f}")
            print(f"| {model} | {t['batch']} | " + " | ".join(cells) + " |")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="logitserve's GPU check (see gpu-check.sh)")
    parser.add_argument("--cuda", action="store_true", help="also run the CUDA half")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument(
        "--models", nargs="+", default=["mnist", "mnist-cnn", "multilabel", "tshirt", "coffee"]
    )
    parser.add_argument("--tolerance", type=float, default=1e-4, help="on logits")
    parser.add_argument("--seconds", type=float, default=1.0, help="timing per case")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs per run")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-in-process", action="store_true", help="the service only")
    parser.add_argument("--train-python", default=sys.executable, help="interpreter with torch")
    parser.add_argument("--heldout", type=Path, help="held-out inputs (bench.gpu_heldout's file)")
    parser.add_argument("--out", type=Path, help="write everything measured here as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    report: dict[str, Any] = {}
    try:
        run(args, report)
    except CheckFailed as failure:
        print(f"gpu-check: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if args.out:  # what was measured before a failure too
            args.out.write_text(json.dumps(report, indent=1, default=str))
    print("gpu-check: all checks passed" + ("" if args.cuda else " (CPU half only)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
