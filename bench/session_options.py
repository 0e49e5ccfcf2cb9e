"""ONNX Runtime session options, measured: threads, graph optimisation and the memory arena,
for each model's single rows and batches. The service's defaults come from this table."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

VARIANTS = {
    "1 thread, all optimisations, arena (default)": dict(
        threads=1, level="ORT_ENABLE_ALL", arena=True
    ),
    "1 thread, basic optimisations": dict(threads=1, level="ORT_ENABLE_BASIC", arena=True),
    "1 thread, no arena": dict(threads=1, level="ORT_ENABLE_ALL", arena=False),
    "all threads": dict(threads=0, level="ORT_ENABLE_ALL", arena=True),
}


def _session(path: Path, threads: int, level: str, arena: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.enable_cpu_mem_arena = arena
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _rate(session: ort.InferenceSession, batch: int, seconds: float) -> float:
    spec = session.get_inputs()[0]
    shape = [batch, *[d for d in spec.shape[1:]]]
    x = (
        np.random.default_rng(0)
        .integers(0, 256, shape)
        .astype(np.uint8 if spec.type == "tensor(uint8)" else np.float32)
    )
    for _ in range(10):
        session.run(None, {spec.name: x})
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        session.run(None, {spec.name: x})
        calls += 1
    return calls * batch / (time.perf_counter() - started)


def table(models_dir: Path, seconds: float = 0.5) -> list[str]:
    lines = [
        "| model | session options | batch 1 | batch 64 | batch 1024 |",
        "|---|---|---|---|---|",
    ]
    for model in ("mnist", "mnist-cnn"):
        path = models_dir / model / "1" / "model.onnx"
        if not path.exists():
            continue
        for name, variant in VARIANTS.items():
            session = _session(path, **variant)  # type: ignore[arg-type]
            rates = [_rate(session, b, seconds) for b in (1, 64, 1024)]
            lines.append(f"| {model} | {name} | " + " | ".join(f"{r:,.0f}/s" for r in rates) + " |")
    return lines
