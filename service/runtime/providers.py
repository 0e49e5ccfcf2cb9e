"""Which ONNX Runtime execution providers can serve here, found out quietly, and why not.

onnxruntime-gpu runs on machines without a GPU too, but asking it for CUDA there prints a red
loader error per session, which reads like a crash. So CUDA is probed once, without ONNX
Runtime's help: the driver library, then the CUDA provider's own shared library (which needs
the CUDA runtime, cuBLAS and cuRAND). A provider that fails is left out with its reason, and
the service logs one line saying which provider serves and why.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import io
import logging
from pathlib import Path
from typing import Literal

import onnxruntime as ort

log = logging.getLogger("logitserve.providers")

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

ConvAlgoSearch = Literal["HEURISTIC", "EXHAUSTIVE", "DEFAULT"]


def with_options(
    provider: str, conv_algo_search: ConvAlgoSearch = "HEURISTIC"
) -> str | tuple[str, dict[str, str]]:
    """The provider as ONNX Runtime's `providers=` takes it, with our options.

    On CUDA: exact float32 (TF32 matmuls would differ from the CPU by more than 1e-4, and buy
    nothing on models this small), and cuDNN's convolution algorithm chosen by heuristics
    rather than by timing every candidate: ONNX Runtime's exhaustive default runs that search
    at each new batch size, which dynamic batching keeps producing (see BENCHMARKS.md, "GPU").
    """
    if provider == CUDA:
        return (provider, {"use_tf32": "0", "cudnn_conv_algo_search": conv_algo_search})
    return provider


def cuda_problem() -> str | None:
    """Why CUDA cannot serve on this machine, or None when it can (as far as loading goes)."""
    if CUDA not in ort.get_available_providers():
        return "not built into this onnxruntime (install onnxruntime-gpu)"
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return "no NVIDIA driver (libcuda.so.1 cannot be loaded)"
    if importlib.util.find_spec("nvidia") is not None:
        # CUDA libraries installed as pip wheels (nvidia-*) are not on the loader's path;
        # ONNX Runtime preloads them, printing what it cannot find: we report that ourselves.
        with contextlib.redirect_stdout(io.StringIO()):
            ort.preload_dlls()
    library = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    try:
        ctypes.CDLL(str(library))
    except OSError as exc:
        missing = str(exc).split(":")[0].strip()
        return f"its CUDA libraries cannot be loaded ({missing} is missing)"
    return None


def usable(requested: list[str]) -> tuple[list[str], dict[str, str]]:
    """The requested providers that can serve here, in order (the CPU at least), and the
    reason for each one left out."""
    available = set(ort.get_available_providers())
    reasons: dict[str, str] = {}
    for provider in requested:
        if provider == CUDA:
            problem = cuda_problem()
            if problem is not None:
                reasons[provider] = problem
        elif provider not in available:
            reasons[provider] = "not built into this onnxruntime"
    providers = [p for p in requested if p not in reasons] or [CPU]
    first = providers[0]
    if first == requested[0]:
        log.info(f"models run on {first}", extra={"provider": first})
    else:
        why = reasons.get(requested[0], "not selected")
        log.info(
            f"models run on {first}: {requested[0]} {why}",
            extra={"provider": first, "unavailable": requested[0], "reason": why},
        )
    return providers, reasons
