"""scripts/gpu-check.sh (python -m bench.gpu_check): its CPU half runs anywhere (here, on every
test run) and says that is all it ran; the pieces its CUDA half relies on (binary tensors both
ways, the provider in metadata and /metrics, every route, held-out inputs, the comparisons)
are checked against a real server on the CPU. The CUDA half itself ran on a GPU machine: see
BENCHMARKS.md, "GPU"."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from bench import gpu_check, gpu_heldout, gpu_http, gpu_inprocess
from tests.servers import RunningServer, running

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server(shipped_models: Path) -> Iterator[RunningServer]:
    with running(shipped_models) as s:
        yield s


def test_the_cpu_half_runs_without_a_gpu_and_says_so(tmp_path: Path, shipped_models: Path) -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "gpu-check.sh"), "--cpu-only", "--seconds", "0.05"]
        + ["--models-dir", str(shipped_models)]
        + ["--models", "mnist", "mnist-cnn", "--out", str(tmp_path / "report.json")],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "GPU_CHECK_PYTHON": sys.executable},
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "running the CPU half only" in out
    assert re.search(r"provider: mnist v\d+ on CPUExecutionProvider", out), out
    # One table row per model and batch size: p50 / p99 ms / rows per s.
    for model in ("mnist", "mnist-cnn"):
        for rows in gpu_check.SIZES:
            row = re.search(rf"\| {model} \| {rows} \| ([\d.]+) / ([\d.]+) / ([\d,]+) \|", out)
            assert row, out
            p50, p99, rate = float(row[1]), float(row[2]), int(row[3].replace(",", ""))
            assert 0 < p50 <= p99 and rate > 0
    assert "CUDA" not in out.split("v2 binary over HTTP")[1]
    assert out.rstrip().endswith("gpu-check: all checks passed (CPU half only)")
    report = json.loads((tmp_path / "report.json").read_text())
    assert [t["batch"] for t in report["http"]["CPU"]["mnist"]] == gpu_check.SIZES


def test_binary_tensor_round_trip_matches_v1_json(server: RunningServer) -> None:
    client = gpu_http.Server("test", server.port)
    name, shape = gpu_http.input_of(client, "mnist")
    batch = np.random.default_rng(0).integers(0, 256, (5, *shape[1:]), dtype=np.uint8)
    got = gpu_http.predict(client, "mnist", name, batch)
    r = httpx.post(f"{server.url}/v1/models/mnist/predict", json={"instances": batch.tolist()})
    expected = [[p["probabilities"][str(d)] for d in range(10)] for p in r.json()["predictions"]]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    logits = gpu_http.predict(client, "mnist", name, batch, output="logits")
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(softmax / softmax.sum(axis=1, keepdims=True), got, atol=1e-6)


def test_a_model_on_the_wrong_provider_fails_the_check_naming_both(server: RunningServer) -> None:
    client = gpu_http.Server("CUDA", server.port)
    assert "CPUExecutionProvider" in gpu_http.check_provider(client, "mnist", gpu_http.CPU)
    with pytest.raises(gpu_http.CheckFailed, match="runs on CPUExecutionProvider, not CUDA"):
        gpu_http.check_provider(client, "mnist", gpu_http.CUDA)


def test_the_metrics_gauge_is_read_whatever_the_label_order() -> None:
    text = 'logitserve_model_ready{model="mnist",provider="CUDAExecutionProvider",version="2"} 1.0'
    assert gpu_http.metric_says(text, "mnist", "2", "CUDAExecutionProvider")
    assert not gpu_http.metric_says(text, "mnist", "1", "CUDAExecutionProvider")
    assert not gpu_http.metric_says(
        text.replace("1.0", "0.0"), "mnist", "2", "CUDAExecutionProvider"
    )


def test_every_route_kind_answers_for_images_and_tables(server: RunningServer) -> None:
    client = gpu_http.Server("test", server.port)
    digit = gpu_heldout.held_out("mnist-cnn", 1)[0][0]
    said = gpu_http.check_routes(client, "mnist-cnn", digit.tolist(), gpu_check.png_of(digit))
    assert said.startswith("mnist-cnn: v1 JSON -> '") and "image -> '" in said
    row = gpu_heldout.held_out("coffee", 1)[0][0]
    assert "image" not in gpu_http.check_routes(client, "coffee", row.tolist(), None)


@pytest.mark.parametrize("model", gpu_heldout.MODELS)
def test_held_out_inputs_come_in_the_graph_s_own_shape(model: str, shipped_models: Path) -> None:
    x, y = gpu_heldout.held_out(model, 1000)
    _, manifest = gpu_inprocess.latest(shipped_models, model)
    assert x.shape == (1000, *manifest["input"]["shape"][1:])
    assert x.dtype == (np.uint8 if manifest["input"]["datatype"] == "UINT8" else np.float32)
    assert len(y) == 1000


def test_logits_are_compared_by_their_largest_difference(shipped_models: Path) -> None:
    path, _ = gpu_inprocess.latest(shipped_models, "mnist")
    cpu = gpu_inprocess.session(path, gpu_inprocess.CPU)
    rows = gpu_heldout.held_out("mnist", 50)[0]
    same = gpu_inprocess.agreement("mnist", cpu, cpu, rows)
    assert same.max_abs_diff == 0 and same.same_argmax == 1 and same.rows == 50


def test_in_process_timings_cover_every_size_and_variant(
    monkeypatch: pytest.MonkeyPatch, shipped_models: Path
) -> None:
    real = gpu_inprocess.session

    def cpu_only(
        path: Path, provider: str, threads: int = 1, cuda_options: object = None
    ) -> object:
        return real(path, gpu_inprocess.CPU, threads)

    monkeypatch.setattr(gpu_inprocess, "session", cpu_only)
    table = gpu_inprocess.time_providers(shipped_models, "mnist", [1, 64], 0.01, [1, 2])
    assert list(table) == ["CUDA", "CUDA heuristic", "CPU x1", "CPU x2"]
    for variant in table.values():
        assert list(variant) == [1, 64]
        assert all(first > 0 and median > 0 for first, median in variant.values())
