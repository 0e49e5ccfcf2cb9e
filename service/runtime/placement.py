"""Where a call runs when a model is on CUDA: small batches on the CPU, large ones on the GPU.

A CUDA call pays a fixed cost (kernel launches, copies to and from the device) that a small
batch of these small models never earns back, while the CPU's cost grows with the rows. So
each model on CUDA also gets a CPU session, and calls with fewer rows than its crossover run
there. The crossover is measured per model when it loads (it depends on the model, the CPU
and the GPU), or set once for all (`--cpu-below-rows`). Figures: BENCHMARKS.md, "GPU".
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import numpy as np

# Rows per call timed at load. Larger calls are assumed to favour CUDA once these do; the
# largest is the default dynamic batch, so the calls the batcher makes are covered.
CALIBRATION_ROWS = (1, 4, 16, 64, 256)
REPEATS = 5


def crossover_rows(cuda_s: Mapping[int, float], cpu_s: Mapping[int, float]) -> int:
    """The fewest rows from which CUDA is at least as fast as the CPU at every size measured
    (1 when it always is). If the CPU is faster even at the largest size, twice that size."""
    sizes = sorted(cuda_s)
    threshold = sizes[0]
    for index, rows in enumerate(sizes):
        if cuda_s[rows] > cpu_s[rows]:
            threshold = sizes[index + 1] if index + 1 < len(sizes) else 2 * rows
    return threshold


def median_call_s(run: Callable[[np.ndarray], object], batch: np.ndarray) -> float:
    """The median wall time of `run(batch)` over REPEATS calls, after one to warm up."""
    run(batch)
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        run(batch)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_crossover(
    cuda: Callable[[np.ndarray], object],
    cpu: Callable[[np.ndarray], object],
    sample: Callable[[int], np.ndarray],
) -> tuple[int, dict[int, tuple[float, float]]]:
    """The crossover of two ways to run one model, and the (CUDA, CPU) seconds per size.

    `sample(rows)` gives an input batch in the model's range (random, not zeros: zeros can
    run faster than real data).
    """
    timings: dict[int, tuple[float, float]] = {}
    for rows in CALIBRATION_ROWS:
        batch = sample(rows)
        timings[rows] = (median_call_s(cuda, batch), median_call_s(cpu, batch))
    threshold = crossover_rows(
        {r: t[0] for r, t in timings.items()}, {r: t[1] for r, t in timings.items()}
    )
    return threshold, timings
