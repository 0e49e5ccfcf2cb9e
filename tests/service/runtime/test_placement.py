"""Small calls on the CPU, large ones on CUDA: the crossover and the routing by rows.

The routing is tested with two CPU sessions of different models standing in for CUDA and
its CPU twin, so which one answered shows in the logits; the crossover is a pure function of
timings. The timings themselves are measured on a GPU by `python -m bench.gpu_check --cuda`.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from modelrepo.manifest import Manifest
from service.runtime import placement
from service.runtime.sessions import Runtime, Session, sample_rows
from tests.builders import image_manifest, random_mlp, tabular_manifest


def manifest() -> Manifest:
    return Manifest.model_validate({**image_manifest("mnist", 1), "model_sha256": "0" * 64})


def cpu_session(seed: int) -> ort.InferenceSession:
    return ort.InferenceSession(
        random_mlp(seed).SerializeToString(), providers=["CPUExecutionProvider"]
    )


@pytest.mark.parametrize(
    ("cuda_us", "cpu_us", "expected"),
    [
        ({1: 90, 4: 90, 16: 95, 64: 100, 256: 120}, {1: 10, 4: 20, 16: 60, 64: 200, 256: 800}, 64),
        ({1: 5, 4: 5, 16: 5, 64: 5, 256: 5}, {1: 10, 4: 20, 16: 60, 64: 200, 256: 800}, 1),
        ({1: 90, 4: 90, 16: 95, 64: 100, 256: 120}, {1: 1, 4: 2, 16: 6, 64: 20, 256: 80}, 512),
        # A CPU win at 64 after a CUDA win at 16 moves the crossover past 64.
        ({1: 90, 4: 90, 16: 50, 64: 100, 256: 120}, {1: 10, 4: 20, 16: 60, 64: 90, 256: 800}, 256),
    ],
    ids=["crosses-at-64", "cuda-always", "cpu-always", "not-monotonic"],
)
def test_the_crossover_is_the_fewest_rows_from_which_cuda_keeps_winning(
    cuda_us: dict[int, float], cpu_us: dict[int, float], expected: int
) -> None:
    assert placement.crossover_rows(cuda_us, cpu_us) == expected


def test_calls_below_the_crossover_run_on_the_cpu_twin() -> None:
    main, twin = cpu_session(1), cpu_session(2)
    session = Session(main, manifest(), None, cpu_twin=twin, cpu_below_rows=8)
    rows = sample_rows(manifest(), 9)
    by_main = main.run(None, {"pixels": rows})[0]
    by_twin = twin.run(None, {"pixels": rows})[0]
    assert not np.allclose(by_main, by_twin)
    np.testing.assert_array_equal(session.run(rows[:7]), by_twin[:7])
    np.testing.assert_array_equal(session.run(rows[:8]), by_main[:8])
    np.testing.assert_array_equal(session.run(rows), by_main)


def test_without_a_twin_every_call_runs_on_the_main_session() -> None:
    main = cpu_session(1)
    session = Session(main, manifest(), None, cpu_below_rows=8)
    rows = sample_rows(manifest(), 3)
    assert session.cpu_below_rows == 0
    np.testing.assert_array_equal(session.run(rows), main.run(None, {"pixels": rows})[0])


def test_a_model_on_the_cpu_gets_no_twin() -> None:
    session = Runtime(["CPUExecutionProvider"], 1, cpu_below_rows=64).create(
        random_mlp().SerializeToString(), manifest()
    )
    assert session.provider == "CPUExecutionProvider"
    assert session.cpu_below_rows == 0


def test_the_crossover_is_measured_on_both_sessions_at_each_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, int]] = []

    def timed(run: object, batch: np.ndarray) -> float:
        name = "cuda" if run is cuda else "cpu"
        seen.append((name, len(batch)))
        return {"cuda": 50e-6, "cpu": 3e-6 * len(batch)}[name]

    def cuda(batch: np.ndarray) -> None: ...
    def cpu(batch: np.ndarray) -> None: ...

    monkeypatch.setattr(placement, "median_call_s", timed)
    threshold, timings = placement.measure_crossover(cuda, cpu, lambda n: np.zeros((n, 2)))
    assert threshold == 64  # the CPU takes 48 us at 16 rows, 192 us at 64
    assert sorted(timings) == list(placement.CALIBRATION_ROWS)
    assert seen == [(p, r) for r in placement.CALIBRATION_ROWS for p in ("cuda", "cpu")]


def test_calibration_inputs_span_the_declared_range_not_zeros() -> None:
    pixels = sample_rows(manifest(), 64)
    assert pixels.dtype == np.uint8 and pixels.shape == (64, 784)
    assert pixels.min() == 0 and pixels.max() == 255
    tabular = Manifest.model_validate(
        {
            **tabular_manifest("coffee", 1, ["t", "d"], "binary", ["bad", "good"], 1),
            "model_sha256": "0" * 64,
        }
    )
    features = sample_rows(tabular, 16)
    assert features.dtype == np.float32 and features.shape == (16, 2)
    assert np.count_nonzero(features) == features.size
