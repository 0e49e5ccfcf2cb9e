"""Bring your own ONNX: publish a graph trained anywhere as the next version of a model, with
the service's own checks, from the service's install (no torch).

The graph is read by ONNX Runtime (a graph it cannot read, or one with external data, is
refused with its reason) and then checked by `onnx.checker`, which refuses graphs that break
the ONNX specification even where this ONNX Runtime happens to run them (a later release, or
another runtime, need not); its input and output are taken from the graph and what the user
says (`--image HxW` or `--features a,b,c`, the task and the labels), the manifest is built
and validated by the model the service reads it with, the version is created exactly as the
service will create it (shape checks, warm-up, finite logits), evaluated on held-out data if
given, and published by the contract's own atomic publish (modelrepo/publish.py), the one
training uses: written whole into `models/<name>/.tmp-*`, fsynced, renamed to the next free
version number.
"""

from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from modelrepo.manifest import TASK_KINDS, Manifest
from modelrepo.names import MODEL_FILE
from modelrepo.publish import PublishError, commit, staging_folder
from service import __version__
from service.commands import evaluation, held_out
from service.protocol.task_policies import TASKS
from service.repository.disk import read_regular_file
from service.repository.folders import LoadError, check_name
from service.runtime import graphs
from service.runtime.load_check import LoadCheck
from service.runtime.sessions import ONNXRUNTIME_VERSION, Runtime, Session
from service.settings import Settings

EVAL_BATCH = 1024  # rows per call when evaluating held-out data
# What the server holds a version to by default: refused here, it would be refused there.
_DEFAULTS = Settings.model_fields
LOAD_CHECK = LoadCheck(
    _DEFAULTS["max_load_memory_mib"].default * 1024 * 1024, _DEFAULTS["load_timeout_s"].default
)


@dataclass(frozen=True)
class Request:
    model: Path
    name: str
    task: str
    labels: list[str]
    image: tuple[int, int] | None = None
    features: list[str] | None = None
    held_out: Path | None = None
    threshold: float | None = None
    max_model_bytes: int = 256 * 1024 * 1024
    load_check: LoadCheck | None = LOAD_CHECK


@dataclass(frozen=True)
class Published:
    name: str
    version: int
    path: Path
    metrics: dict[str, float | None]


def publish(request: Request, models_dir: Path) -> Published:
    """Check, describe, evaluate and publish; PublishError with the reason otherwise."""
    try:
        check_name(request.name)
    except Exception as exc:
        raise PublishError(str(exc)) from None
    try:
        data = read_regular_file(request.model, request.max_model_bytes)
    except OSError as exc:
        raise PublishError(f"cannot read {request.model}: {exc.strerror or exc}") from None
    runtime = Runtime(["CPUExecutionProvider"], intra_op_threads=0)
    try:
        graph = runtime.describe(data)
        _check_specification(data)
        manifest = _manifest(request, graph, hashlib.sha256(data).hexdigest())
        check = request.load_check
        deadline = time.monotonic() + (check.timeout_s if check is not None else 3600.0)
        if check is not None:
            check.run(data, manifest, deadline)
        session = runtime.create(data, manifest, deadline)
    except LoadError as exc:
        raise PublishError(f"the service cannot serve this graph: {exc}") from None
    metrics: dict[str, float | None] = {}
    dataset = None
    if request.held_out is not None:
        x, y = held_out.read(request.held_out, manifest)
        probabilities = TASKS[manifest.task].activate(_logits(session, x))
        threshold = TASKS[manifest.task].default_threshold(manifest.threshold)
        metrics = evaluation.metrics(manifest.task, probabilities, y, threshold)
        dataset = {"name": request.held_out.name, "test_size": len(x)}
    document = manifest.model_dump(mode="json") | {"metrics": metrics, "dataset": dataset}
    version, path = _commit(models_dir, request.name, data, document)
    return Published(request.name, version, path, metrics)


def _check_specification(data: bytes) -> None:
    # Imported here: the service itself never needs the onnx package, only this command.
    import onnx

    try:
        onnx.checker.check_model(onnx.load_model_from_string(data))
    except (onnx.checker.ValidationError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PublishError(
            f"the graph breaks the ONNX specification (onnx.checker): {first}"
        ) from None


def _manifest(request: Request, graph: graphs.Graph, sha256: str) -> Manifest:
    if len(graph.inputs) != 1:
        raise PublishError(f"the graph has {len(graph.inputs)} inputs; the service feeds one")
    if len(graph.outputs) != 1:
        names = [o.name for o in graph.outputs]
        raise PublishError(f"the graph has {len(names)} outputs {names}; publish one: logits")
    graph_in, graph_out = graph.inputs[0], graph.outputs[0]
    datatype = graphs.SERVED_INPUTS.get(graph_in.type)
    if datatype is None:
        raise PublishError(
            f"the graph's input is {graph_in.type}; the service feeds uint8 pixels or float "
            "features"
        )
    row = graph_in.shape[1:]
    if not row or not all(isinstance(d, int) and d > 0 for d in row):
        raise PublishError(
            f"the graph's input shape {graph_in.shape} has symbolic sizes beyond the batch: "
            "export it with fixed image or feature sizes"
        )
    shape = [-1, *[d for d in row if isinstance(d, int)]]
    if request.image is not None:
        height, width = request.image
        kind: dict[str, Any] = {
            "kind": "image",
            "image": {"height": height, "width": width},
            "features": None,
        }
    elif request.features is not None:
        kind = {
            "kind": "tabular",
            "image": None,
            "features": [{"name": f, "unit": "", "description": ""} for f in request.features],
        }
    else:
        raise PublishError("say what the input is: --image HxW or --features a,b,c")
    out_shape = graph_out.shape
    classes = out_shape[1] if len(out_shape) == 2 and isinstance(out_shape[1], int) else None
    if classes is None:
        raise PublishError(f"the graph's output shape {out_shape} is not [batch, K] logits")
    policy = TASKS.get(request.task)
    if policy is None:
        raise PublishError(f"the task must be one of {', '.join(TASKS)}")
    document = {
        "format": 1,
        "name": request.name,
        "version": 1,  # the real number is known only when the rename succeeds
        "task": request.task,
        "labels": request.labels,
        "input": {"name": graph_in.name, "datatype": datatype, "shape": shape, **kind},
        "output": {
            "name": graph_out.name,
            "datatype": "FP32",
            "shape": [-1, classes],
            "activation": TASK_KINDS[request.task].activation,
        },
        "threshold": policy.default_threshold(request.threshold),
        "versions": {
            "logitserve": __version__,
            "python": platform.python_version(),
            "onnxruntime": ONNXRUNTIME_VERSION,
        },
        "training": {"source": "published with `logitserve publish` from " + request.model.name},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "model_sha256": sha256,
    }
    try:
        return Manifest.model_validate(document)
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "manifest"
        message = first["msg"].removeprefix("Value error, ")
        if where.startswith("labels"):  # the option alone, not the graph
            raise PublishError(f"--labels: {message}") from None
        raise PublishError(f"the graph and the options disagree: {where}: {message}") from None


def _logits(session: Session, x: np.ndarray) -> np.ndarray:
    """The model's logits for every row, a batch at a time (held-out data may be large)."""
    return np.concatenate(
        [session.run(x[i : i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)]
    )


def _commit(models_dir: Path, name: str, data: bytes, manifest: dict[str, Any]) -> tuple[int, Path]:
    """Stage the version whole, then rename it to the next free number, as training does."""
    with staging_folder(models_dir, name) as stage:
        (stage / MODEL_FILE).write_bytes(data)
        published = commit(stage, name, manifest)
    return published.version, published.path
