"""CUDA is probed quietly: a machine without it serves on the CPU, says why in one line, and
prints no loader errors from ONNX Runtime."""

from __future__ import annotations

import ctypes
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.runtime import providers
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def test_a_missing_driver_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ctypes.CDLL

    def no_driver(name: str, *args: object, **kwargs: object) -> ctypes.CDLL:
        if name == "libcuda.so.1":
            raise OSError("libcuda.so.1: cannot open shared object file")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(
        providers.ort, "get_available_providers", lambda: [providers.CUDA, providers.CPU]
    )
    monkeypatch.setattr(providers.ctypes, "CDLL", no_driver)
    assert providers.cuda_problem() == "no NVIDIA driver (libcuda.so.1 cannot be loaded)"


def test_missing_cuda_libraries_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def driver_only(name: str, *args: object, **kwargs: object) -> object:
        if name == "libcuda.so.1":
            return object()
        raise OSError("libcublasLt.so.13: cannot open shared object file: No such file")

    monkeypatch.setattr(
        providers.ort, "get_available_providers", lambda: [providers.CUDA, providers.CPU]
    )
    monkeypatch.setattr(providers.ort, "preload_dlls", lambda: print("Failed to load libcudnn"))
    monkeypatch.setattr(providers.ctypes, "CDLL", driver_only)
    assert providers.cuda_problem() == (
        "its CUDA libraries cannot be loaded (libcublasLt.so.13 is missing)"
    )


def test_an_onnxruntime_without_cuda_says_which_package_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(providers.ort, "get_available_providers", lambda: [providers.CPU])
    assert "install onnxruntime-gpu" in (providers.cuda_problem() or "")


def test_unusable_providers_are_left_out_with_one_line_saying_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(providers, "cuda_problem", lambda: "no NVIDIA driver")
    with caplog.at_level(logging.INFO, logger="logitserve.providers"):
        usable, reasons = providers.usable(
            [providers.CUDA, "NoSuchExecutionProvider", providers.CPU]
        )
    assert usable == [providers.CPU]
    assert reasons[providers.CUDA] == "no NVIDIA driver"
    assert "not built" in reasons["NoSuchExecutionProvider"]
    (line,) = caplog.messages
    assert line == "models run on CPUExecutionProvider: CUDAExecutionProvider no NVIDIA driver"


def test_the_service_starts_without_onnxruntime_errors_and_names_its_provider(
    tmp_path: Path,
) -> None:
    """On this machine, whatever it has: CUDA in use, or the CPU with the reason, and no
    `[E:onnxruntime...]` loader errors or `Failed to load` lines either way."""
    code = (
        "import logging, sys; from service.logs import configure; configure('info');"
        "from service.runtime.sessions import Runtime;"
        "r = Runtime(['CUDAExecutionProvider', 'CPUExecutionProvider'], 1)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "[E:onnxruntime" not in output and "Failed to load" not in output, output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    (line,) = [entry for entry in lines if entry["message"].startswith("models run on")]
    problem = providers.cuda_problem()
    if problem is None:
        assert line["message"] == "models run on CUDAExecutionProvider"
    else:
        assert (
            line["message"]
            == f"models run on CPUExecutionProvider: CUDAExecutionProvider {problem}"
        )


def test_cuda_runs_exact_float32_with_heuristic_convolution_algorithms() -> None:
    assert providers.with_options(providers.CUDA) == (
        providers.CUDA,
        {"use_tf32": "0", "cudnn_conv_algo_search": "HEURISTIC"},
    )
    assert providers.with_options(providers.CUDA, "EXHAUSTIVE")[1]["cudnn_conv_algo_search"] == (  # type: ignore[index]
        "EXHAUSTIVE"
    )
    assert providers.with_options(providers.CPU) == providers.CPU


def test_the_convolution_search_is_a_setting_refusing_unknown_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGITSERVE_CUDA_CONV_ALGO_SEARCH", "EXHAUSTIVE")
    assert Settings().cuda_conv_algo_search == "EXHAUSTIVE"
    monkeypatch.setenv("LOGITSERVE_CUDA_CONV_ALGO_SEARCH", "FASTEST")
    with pytest.raises(ValidationError, match="HEURISTIC"):
        Settings()
