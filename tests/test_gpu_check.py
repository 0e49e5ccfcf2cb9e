"""scripts/gpu-check.sh: its CPU half runs anywhere (here, on every test run) and says that
is all it ran; the pieces its CUDA half relies on (binary tensors both ways, the provider
assertion, the comparison) are checked against a real server on the CPU."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import numpy as np
import pytest

from tests.servers import RunningServer, running

ROOT = Path(__file__).resolve().parent.parent


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


gpu_check = load()


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running(ROOT / "models") as s:
        yield s


def test_the_cpu_half_runs_without_a_gpu_and_says_so() -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "gpu-check.sh"), "--cpu-only", "--requests", "30"]
        + ["--seconds", "0.5", "--batch", "1024"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GPU_CHECK_PYTHON": sys.executable},
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "running the CPU half only" in out
    assert "provider: mnist v" in out and "on CPUExecutionProvider" in out
    # One table row per model: p50 and p99 latency in ms, then rows/s at the batch size.
    for model in ("mnist", "mnist-cnn"):
        row = re.search(
            rf"\| {model} \| CPUExecutionProvider \| ([\d.]+) \| ([\d.]+) \| ([\d,]+) @ 1024 \|",
            out,
        )
        assert row, out
        p50, p99, rate = float(row[1]), float(row[2]), int(row[3].replace(",", ""))
        assert 0 < p50 <= p99 and rate > 0
    assert "| CUDAExecutionProvider |" not in out
    assert out.rstrip().endswith("gpu-check: all checks passed (CPU half only)")


def test_binary_tensor_round_trip_matches_v1_json(server: RunningServer) -> None:
    client = gpu_check.Server("test", server.port)
    name, shape = gpu_check.input_of(client, "mnist")
    batch = gpu_check.pixels(shape, 5)
    got = gpu_check.predict(client, "mnist", name, batch)
    r = httpx.post(f"{server.url}/v1/models/mnist/predict", json={"instances": batch.tolist()})
    expected = [[p["probabilities"][str(d)] for d in range(10)] for p in r.json()["predictions"]]
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_the_cnn_gets_inputs_in_its_own_shape(server: RunningServer) -> None:
    client = gpu_check.Server("test", server.port)
    name, shape = gpu_check.input_of(client, "mnist-cnn")
    assert gpu_check.pixels(shape, 3).shape == (3, *shape[1:])
    assert gpu_check.predict(client, "mnist-cnn", name, gpu_check.pixels(shape, 3)).shape == (3, 10)


def test_a_model_on_the_wrong_provider_fails_the_check_naming_both(server: RunningServer) -> None:
    client = gpu_check.Server("CUDA", server.port)
    assert "CPUExecutionProvider" in gpu_check.check_provider(client, "mnist", gpu_check.CPU)
    with pytest.raises(gpu_check.CheckFailed, match="runs on CPUExecutionProvider, not CUDA"):
        gpu_check.check_provider(client, "mnist", gpu_check.CUDA)


def test_outputs_compare_by_their_largest_difference() -> None:
    a = np.array([[0.25, 0.75], [0.5, 0.5]], dtype=np.float32)
    assert gpu_check.max_abs_difference(a, a) == 0
    assert gpu_check.max_abs_difference(a, a + np.float32(3e-5)) == pytest.approx(3e-5, rel=1e-3)
    with pytest.raises(gpu_check.CheckFailed, match="shapes differ"):
        gpu_check.max_abs_difference(a, a[:1])
