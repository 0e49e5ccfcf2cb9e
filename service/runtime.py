"""ONNX Runtime, and only here: sessions, execution providers, graph checks, warm-up.

ONNX Runtime falls back to the CPU silently when a requested provider (CUDA) cannot load;
`Session.provider` says what is really in use and `Session.fallback` why, so the service can
report it per model in metadata, logs and metrics.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import shutil
import tempfile
import threading
import weakref

import numpy as np
import onnxruntime as ort

from service.datatypes import DATATYPES
from service.manifest import Manifest
from service.repository import LoadError

log = logging.getLogger("logitserve.runtime")

# Warnings about unused initialisers and the like are noise to a user; errors stay.
ort.set_default_logger_severity(3)


class Session:
    """One model version in ONNX Runtime: `run` maps an input batch to logits."""

    def __init__(self, inner: ort.InferenceSession, manifest: Manifest, fallback: str | None):
        self._inner = inner
        self._input = manifest.input.name
        self._outputs = [manifest.output.name]
        self.provider: str = inner.get_providers()[0]
        self.fallback = fallback

    def run(self, batch: np.ndarray) -> np.ndarray:
        logits: np.ndarray = self._inner.run(self._outputs, {self._input: batch})[0]
        return logits


class Runtime:
    """Creates sessions with the configured providers, remembering which ones cannot load."""

    def __init__(self, providers: list[str], intra_op_threads: int) -> None:
        available = set(ort.get_available_providers())
        self.requested = list(providers)
        self._providers = [p for p in providers if p in available]
        if "CUDAExecutionProvider" in self._providers and importlib.util.find_spec("nvidia"):
            # CUDA libraries installed as pip wheels (nvidia-*) are not on the loader's path.
            ort.preload_dlls()
        self._unusable: dict[str, str] = {
            p: "not built into this onnxruntime" for p in providers if p not in available
        }
        if not self._providers:
            self._providers = ["CPUExecutionProvider"]
        self._intra_op_threads = intra_op_threads
        self._lock = threading.Lock()
        # A model loaded from bytes would look for external weight files in the working
        # directory. Point ONNX Runtime at an empty folder of ours instead: a model with
        # external data fails to load (its extra files are not covered by the sha256), and
        # nothing outside the model repository is ever read.
        self._no_external_data = tempfile.mkdtemp(prefix="logitserve-")
        weakref.finalize(self, shutil.rmtree, self._no_external_data, ignore_errors=True)

    def _options(self) -> ort.SessionOptions:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self._intra_op_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.add_session_config_entry(
            "session.model_external_initializers_file_folder_path", self._no_external_data
        )
        return options

    def create(self, model: bytes, manifest: Manifest) -> Session:
        """A warmed-up session whose graph matches the manifest, or LoadError."""
        with self._lock:
            providers = [p for p in self._providers if p not in self._unusable]
        try:
            inner = ort.InferenceSession(
                model, self._options(), providers=[_with_options(p) for p in providers]
            )
        except Exception as exc:  # ONNX Runtime raises its own types for every parse failure
            if "external data" in str(exc).lower():
                raise LoadError(
                    "model.onnx keeps weights in external data files, which are not served: "
                    "export one self-contained file"
                ) from None
            raise LoadError(f"ONNX Runtime cannot load model.onnx: {_short(exc)}") from None
        in_use = inner.get_providers()
        with self._lock:
            for p in providers:
                if p not in in_use and p != "CPUExecutionProvider":
                    if p not in self._unusable:
                        log.warning(
                            "execution provider unavailable, falling back",
                            extra={"provider": p, "in_use": in_use[0]},
                        )
                    self._unusable[p] = "failed to load (libraries or device missing)"
            fallback = None
            if in_use[0] != self.requested[0]:
                reason = self._unusable.get(self.requested[0], "not selected")
                fallback = f"{self.requested[0]} {reason}; using {in_use[0]}"
        _check_graph(inner, manifest)
        session = Session(inner, manifest, fallback)
        _warm_up(session, manifest)
        return session


_PATH = re.compile(r"(?:[A-Za-z]:)?[/\\][^\s\"':,]+")


# Exact float32 on the GPU: TF32 matmuls would differ from the CPU by more than 1e-4, and
# buy nothing on models this small.
PROVIDER_OPTIONS: dict[str, dict[str, str]] = {"CUDAExecutionProvider": {"use_tf32": "0"}}


def _with_options(provider: str) -> str | tuple[str, dict[str, str]]:
    options = PROVIDER_OPTIONS.get(provider)
    return (provider, options) if options else provider


def _short(exc: BaseException, limit: int = 300) -> str:
    """ONNX Runtime's message, on one line, without file paths (they are not for clients)."""
    text = _PATH.sub("<path>", " ".join(str(exc).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dims_match(graph_shape: list[object], declared: list[int]) -> bool:
    if len(graph_shape) != len(declared):
        return False
    # The batch axis must be dynamic; the rest must equal the manifest (a symbolic dim agrees).
    if isinstance(graph_shape[0], int) and graph_shape[0] > 0:
        return False
    return all(not isinstance(g, int) or g == d for g, d in zip(graph_shape[1:], declared[1:]))


def _check_graph(inner: ort.InferenceSession, manifest: Manifest) -> None:
    inputs, outputs = inner.get_inputs(), inner.get_outputs()
    if len(inputs) != 1:
        raise LoadError(f"the graph has {len(inputs)} inputs; the manifest describes one")
    graph_in = inputs[0]
    spec = manifest.input
    if graph_in.name != spec.name:
        raise LoadError(f"the graph's input is {graph_in.name!r}, the manifest says {spec.name!r}")
    if graph_in.type != DATATYPES[spec.datatype].onnx:
        raise LoadError(f"the graph's input is {graph_in.type}, the manifest says {spec.datatype}")
    if not _dims_match(list(graph_in.shape), spec.shape):
        raise LoadError(f"the graph's input shape {graph_in.shape} disagrees with {spec.shape}")
    names = [o.name for o in outputs]
    if manifest.output.name not in names:
        raise LoadError(f"the graph has no output {manifest.output.name!r} (it has {names})")
    graph_out = outputs[names.index(manifest.output.name)]
    if graph_out.type != DATATYPES[manifest.output.datatype].onnx:
        raise LoadError(f"the graph's output is {graph_out.type}, logits must be FP32")
    if not _dims_match(list(graph_out.shape), manifest.output.shape):
        raise LoadError(
            f"the graph's output shape {graph_out.shape} disagrees with {manifest.output.shape}"
        )


def _warm_up(session: Session, manifest: Manifest) -> None:
    """Run two rows once so the first client does not pay for lazy initialisation."""
    rows = np.zeros((2, *manifest.input.row_shape), dtype=DATATYPES[manifest.input.datatype].numpy)
    try:
        logits = session.run(rows)
    except Exception as exc:
        raise LoadError(f"the model fails on a warm-up batch: {_short(exc)}") from None
    if logits.shape != (2, manifest.output.width):
        raise LoadError(
            f"the model returned shape {list(logits.shape)} for 2 rows, "
            f"the manifest says [-1, {manifest.output.width}]"
        )
