"""ONNX Runtime, and only here: sessions, execution providers, graph checks, warm-up.

ONNX Runtime falls back to the CPU silently when a requested provider (CUDA) cannot load;
`Session.provider` says what is really in use and `Session.fallback` why, so the service can
report it per model in metadata, logs and metrics. A model on CUDA also gets a CPU session
for calls too small to pay for the GPU's fixed costs (see placement.py).
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
import weakref

import numpy as np
import onnxruntime as ort

from modelrepo.manifest import Manifest
from service.repository.folders import LoadError
from service.runtime import graphs, placement, providers, warm_up
from service.runtime.session_options import session_options

log = logging.getLogger("logitserve.runtime")

ONNXRUNTIME_VERSION: str = ort.__version__
# Warnings about unused initialisers and the like are noise to a user; errors stay.
ort.set_default_logger_severity(3)


class Session:
    """One model version in ONNX Runtime: `run` maps an input batch to logits.

    With a CPU twin, calls of fewer than `cpu_below_rows` rows run on the twin.
    """

    def __init__(
        self,
        inner: ort.InferenceSession,
        manifest: Manifest,
        fallback: str | None,
        cpu_twin: ort.InferenceSession | None = None,
        cpu_below_rows: int = 0,
        fixed_batch: int | None = None,
    ):
        self._inner = inner
        self._twin = cpu_twin
        self._input = manifest.input.name
        self._outputs = [manifest.output.name]
        self.provider: str = inner.get_providers()[0]
        self.fallback = fallback
        self.cpu_below_rows = cpu_below_rows if cpu_twin is not None else 0
        self.fixed_batch = fixed_batch

    def run(self, batch: np.ndarray, options: ort.RunOptions | None = None) -> np.ndarray:
        small = self._twin is not None and len(batch) < self.cpu_below_rows
        inner = self._twin if small and self._twin is not None else self._inner
        if self.fixed_batch is not None:
            return self._run_fixed(inner, batch, self.fixed_batch, options)
        logits: np.ndarray = inner.run(self._outputs, {self._input: batch}, options)[0]
        return logits

    def _run_fixed(
        self,
        inner: ort.InferenceSession,
        batch: np.ndarray,
        size: int,
        options: ort.RunOptions | None,
    ) -> np.ndarray:
        """A graph exported for a fixed batch size: rows in chunks of that size, the last one
        padded with zeros (whose logits are dropped)."""
        parts = []
        for start in range(0, len(batch), size):
            chunk = batch[start : start + size]
            rows = len(chunk)
            if rows < size:
                pad = np.zeros((size - rows, *chunk.shape[1:]), dtype=chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            parts.append(inner.run(self._outputs, {self._input: chunk}, options)[0][:rows])
        return np.concatenate(parts)


class Runtime:
    """Creates sessions with the configured providers, remembering which ones cannot load.

    `cpu_below_rows`: for a model on CUDA, calls with fewer rows run on a CPU twin; None
    measures each model's crossover when it loads, 0 keeps every call on CUDA.
    """

    def __init__(
        self,
        requested: list[str],
        intra_op_threads: int,
        cpu_below_rows: int | None = None,
        conv_algo_search: providers.ConvAlgoSearch = "HEURISTIC",
    ) -> None:
        self.requested = list(requested)
        self._conv_algo_search = conv_algo_search
        self._providers, self._unusable = providers.usable(self.requested)
        self._intra_op_threads = intra_op_threads
        self._cpu_below_rows = cpu_below_rows
        self._lock = threading.Lock()
        # A model loaded from bytes would look for external weight files in the working
        # directory. Point ONNX Runtime at an empty folder of ours instead: a model with
        # external data fails to load (its extra files are not covered by the sha256), and
        # nothing outside the model repository is ever read.
        self._no_external_data = tempfile.mkdtemp(prefix="logitserve-")
        weakref.finalize(self, shutil.rmtree, self._no_external_data, ignore_errors=True)

    def _session(self, model: bytes, chosen: list[str]) -> ort.InferenceSession:
        try:
            return ort.InferenceSession(
                model,
                session_options(self._intra_op_threads, self._no_external_data),
                providers=[providers.with_options(p, self._conv_algo_search) for p in chosen],
            )
        except Exception as exc:  # ONNX Runtime raises its own types for every parse failure
            if "external data" in str(exc).lower():
                raise LoadError(
                    "model.onnx keeps weights in external data files, which are not served: "
                    "export one self-contained file"
                ) from None
            raise LoadError(f"ONNX Runtime cannot load model.onnx: {_short(exc)}") from None

    def describe(self, model: bytes) -> graphs.Graph:
        """The graph's inputs and outputs as ONNX Runtime reads them (on the CPU), or
        LoadError: the check a graph gets before any manifest is written for it."""
        return _describe(self._session(model, [providers.CPU]))

    def create(self, model: bytes, manifest: Manifest, deadline: float | None = None) -> Session:
        """A warmed-up session whose graph matches the manifest, or LoadError. The warm-up is
        stopped at `deadline` (time.monotonic()); creating the session cannot be (the load
        check measured it first: load_check.py)."""
        with self._lock:
            chosen = [p for p in self._providers if p not in self._unusable]
        inner = self._session(model, chosen)
        in_use = inner.get_providers()
        with self._lock:
            for p in chosen:
                if p not in in_use and p != providers.CPU:
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
        fixed = graphs.check(_describe(inner), manifest)
        session = Session(inner, manifest, fallback, fixed_batch=fixed)
        _warm_up(session, manifest, deadline)
        if in_use[0] == providers.CUDA and self._cpu_below_rows != 0:
            session = self._with_cpu_twin(session, inner, model, manifest)
        return session

    def _with_cpu_twin(
        self, session: Session, inner: ort.InferenceSession, model: bytes, manifest: Manifest
    ) -> Session:
        twin = self._session(model, [providers.CPU])
        threshold = self._cpu_below_rows
        if threshold is None:
            cpu = Session(twin, manifest, None)
            threshold, timings = placement.measure_crossover(
                session.run, cpu.run, lambda rows: sample_rows(manifest, rows)
            )
            log.info(
                "small calls run on the CPU",
                extra={
                    "model": manifest.name,
                    "version": manifest.version,
                    "cpu_below_rows": threshold,
                    "us_cuda_cpu": {
                        rows: [round(c * 1e6), round(p * 1e6)] for rows, (c, p) in timings.items()
                    },
                },
            )
        return Session(inner, manifest, session.fallback, twin, threshold, session.fixed_batch)


def _describe(inner: ort.InferenceSession) -> graphs.Graph:
    def tensors(args: list[ort.NodeArg]) -> list[graphs.Tensor]:
        return [graphs.Tensor(a.name, a.type, list(a.shape)) for a in args]

    return graphs.Graph(tensors(inner.get_inputs()), tensors(inner.get_outputs()))


def sample_rows(manifest: Manifest, rows: int, seed: int = 0) -> np.ndarray:
    """Random rows in the declared input's range: pixels 0-255, or features in [0, 1)."""
    spec = manifest.input
    return warm_up.sample_rows(
        spec.datatype, spec.row_shape, rows, seed, pixels=spec.kind == "image"
    )


_PATH = re.compile(r"(?:[A-Za-z]:)?[/\\][^\s\"':,]+")


def _short(exc: BaseException, limit: int = 300) -> str:
    """ONNX Runtime's message, on one line, without file paths (they are not for clients)."""
    text = _PATH.sub("<path>", " ".join(str(exc).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _warm_up(session: Session, manifest: Manifest, deadline: float | None) -> None:
    """Run a few batches once (warm_up.py): the first client does not pay for lazy
    initialisation, and a graph whose logits are not finite (NaN weights, a log or a division
    of the inputs) fails here, before it can serve.

    ONNX Runtime stops a run between two nodes (inside a Loop too) once its RunOptions'
    `terminate` is set, from any thread: a timer sets it at the deadline, so a graph slower
    than the check measured (a busier machine) holds this thread no longer than that."""
    options = ort.RunOptions()
    stop = None
    if deadline is not None:
        stop = threading.Timer(max(deadline - time.monotonic(), 0.0), _terminate, (options,))
        stop.daemon = True
        stop.start()
    try:
        for what, rows in warm_up.batches(
            manifest.input.datatype, manifest.input.row_shape, pixels=manifest.input.kind == "image"
        ):
            try:
                logits = session.run(rows, options)
            except Exception as exc:
                if options.terminate:
                    raise LoadError("it did not warm up before the load deadline") from None
                raise LoadError(
                    f"the model fails on a warm-up batch ({what}): {_short(exc)}"
                ) from None
            if logits.shape != (len(rows), manifest.output.width):
                raise LoadError(
                    f"the model returned shape {list(logits.shape)} for {len(rows)} rows, "
                    f"the manifest says [-1, {manifest.output.width}]"
                )
            if not np.isfinite(logits).all():
                raise LoadError(
                    f"the model's logits are not finite (NaN or infinite) for {what}: "
                    "a version must answer finite logits for every input in the declared range"
                )
    finally:
        if stop is not None:
            stop.cancel()


def _terminate(options: ort.RunOptions) -> None:
    options.terminate = True
