"""ONNX Runtime alone, CUDA against CPU, on the shipped model files: do the logits agree on
held-out inputs, and how long does a call of each batch size take on each provider?

The sessions are made as the service makes them (TF32 off on CUDA, one intra-op thread on
the CPU unless told otherwise), so the figures say what the service's provider choice gains.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def session(
    model: Path, provider: str, threads: int = 1, cuda_options: dict[str, str] | None = None
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    cuda = {"use_tf32": "0", **(cuda_options or {})}
    chosen: list = [(CUDA, cuda), CPU] if provider == CUDA else [CPU]
    made = ort.InferenceSession(str(model), options, providers=chosen)
    if made.get_providers()[0] != provider:
        raise RuntimeError(f"{model}: asked for {provider}, got {made.get_providers()}")
    return made


def latest(models_dir: Path, name: str) -> tuple[Path, dict]:
    """The highest version's model file and manifest."""
    folder = max(
        (p for p in (models_dir / name).iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
    )
    return folder / "model.onnx", json.loads((folder / "manifest.json").read_text())


def logits(made: ort.InferenceSession, rows: np.ndarray) -> np.ndarray:
    name = made.get_inputs()[0].name
    out: np.ndarray = made.run(None, {name: rows})[0]
    return out


@dataclass
class Agreement:
    model: str
    rows: int
    max_abs_diff: float
    same_argmax: float  # share of rows whose largest logit is the same class


def agreement(
    model: str, cuda: ort.InferenceSession, cpu: ort.InferenceSession, rows: np.ndarray
) -> Agreement:
    on_cuda, on_cpu = logits(cuda, rows), logits(cpu, rows)
    diff = float(np.max(np.abs(on_cuda.astype(np.float64) - on_cpu.astype(np.float64))))
    same = float(np.mean(np.argmax(on_cuda, axis=1) == np.argmax(on_cpu, axis=1)))
    return Agreement(model, len(rows), diff, same)


def random_rows(manifest: dict, rows: int, seed: int) -> np.ndarray:
    shape = (rows, *manifest["input"]["shape"][1:])
    rng = np.random.default_rng(seed)
    if manifest["input"]["datatype"] == "UINT8":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.random(shape, dtype=np.float32)


def call_ms(
    made: ort.InferenceSession, batches: list[np.ndarray], seconds: float
) -> tuple[float, float]:
    """The first call's milliseconds at this batch size (what a new shape costs, cuDNN's
    algorithm search included), then the median of calls rotating through `batches` (so no
    two calls in a row read the same input)."""
    t = time.perf_counter()
    logits(made, batches[0])
    first = (time.perf_counter() - t) * 1000
    for batch in batches:
        logits(made, batch)
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < 10 or (time.perf_counter() - started < seconds and len(times) < 5000):
        batch = batches[len(times) % len(batches)]
        t = time.perf_counter()
        logits(made, batch)
        times.append(time.perf_counter() - t)
    return first, statistics.median(times) * 1000


def time_providers(
    models_dir: Path, name: str, sizes: list[int], seconds: float, cpu_threads: list[int]
) -> dict[str, dict[int, tuple[float, float]]]:
    """(first, median) ms per call for each variant and batch size: CUDA as the service runs
    it, CUDA with cuDNN's heuristic algorithm choice instead of its exhaustive search, and
    the CPU at each thread count."""
    path, manifest = latest(models_dir, name)
    variants = {
        "CUDA": session(path, CUDA),
        "CUDA heuristic": session(path, CUDA, cuda_options={"cudnn_conv_algo_search": "HEURISTIC"}),
    }
    for threads in cpu_threads:
        variants[f"CPU x{threads}"] = session(path, CPU, threads)
    table: dict[str, dict[int, tuple[float, float]]] = {label: {} for label in variants}
    for rows in sizes:
        batches = [random_rows(manifest, rows, seed) for seed in range(3)]
        for label, made in variants.items():
            table[label][rows] = call_ms(made, batches, seconds)
    return table
