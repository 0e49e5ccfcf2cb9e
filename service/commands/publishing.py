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
training uses: written whole into `models/<name>/.tmp-*` with its model card (model_card.py),
fsynced, renamed to the next free version number.

The usual exports that need a step first are refused with the step (README, "Bring your own
ONNX"): skl2onnx's default (a label output and a map of probabilities: export raw scores and
say which output holds them with `--output`), torch's `dynamo=True` (weights in an external
file: `external_data=False`).
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
from service.commands.model_card import CARD_FILE, model_card
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
    output: str | None = None  # the graph's logits, where it has several outputs
    max_model_bytes: int = 256 * 1024 * 1024
    load_check: LoadCheck | None = LOAD_CHECK


@dataclass(frozen=True)
class Published:
    name: str
    version: int
    path: Path
    metrics: dict[str, float | None]
    warnings: list[str]


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
    _check_self_contained(data)
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
    warnings: list[str] = []
    if request.held_out is not None:
        x, y = held_out.read(request.held_out, manifest)
        warnings += _range_warnings(request.held_out.name, x, manifest)
        probabilities = TASKS[manifest.task].activate(_batched_logits(session, x))
        threshold = TASKS[manifest.task].default_threshold(manifest.threshold)
        metrics = evaluation.metrics(manifest.task, probabilities, y, threshold)
        dataset = {"name": request.held_out.name, "test_size": len(x)}
    document = manifest.model_dump(mode="json") | {"metrics": metrics, "dataset": dataset}
    card = model_card(document, request.model.name, warnings).encode()
    version, path = _commit(models_dir, request.name, data, document, card)
    return Published(request.name, version, path, metrics, warnings)


# What to do about the usual exports that cannot be served as they are.
EXTERNAL_DATA_FIX = (
    "torch.onnx.export(..., dynamo=True) writes them by default: export with "
    "external_data=False, or save one file: onnx.save(onnx.load('model.onnx'), 'whole.onnx')"
)
OUTPUTS_FIX = (
    "name the one holding the logits with --output NAME (skl2onnx: convert with "
    "options={'zipmap': False, 'raw_scores': True}, whose 'probabilities' output then holds "
    "the raw scores; the README has the recipe for binary classifiers)"
)


def _check_self_contained(data: bytes) -> None:
    """A graph whose weights live in other files is refused with the fix (the service reads
    one file, the one its sha256 covers)."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError):
        return  # not a graph at all: ONNX Runtime says so next
    external = onnx.TensorProto.EXTERNAL
    if any(init.data_location == external for init in model.graph.initializer):
        raise PublishError(
            f"the graph keeps its weights in external data files, which are not served: "
            f"{EXTERNAL_DATA_FIX}"
        )


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
    graph_in, graph_out = graph.inputs[0], _logits(graph, request.output)
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


def _batched_logits(session: Session, x: np.ndarray) -> np.ndarray:
    """The model's logits for every row, a batch at a time (held-out data may be large)."""
    return np.concatenate(
        [session.run(x[i : i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)]
    )


def _logits(graph: graphs.Graph, output: str | None) -> graphs.Tensor:
    """The graph's output that holds the logits: its only one, or the one `--output` names."""
    names = [o.name for o in graph.outputs]
    if output is None:
        if len(names) != 1:
            raise PublishError(f"the graph has {len(names)} outputs {names}: {OUTPUTS_FIX}")
        return graph.outputs[0]
    if output not in names:
        raise PublishError(f"the graph has no output {output!r}; it has {names}")
    found = graph.outputs[names.index(output)]
    if found.type != "tensor(float)":
        raise PublishError(
            f"the graph's output {output!r} is {found.type}; logits are a float tensor "
            f"[batch, K]: {OUTPUTS_FIX}"
        )
    return found


def _range_warnings(source: str, x: np.ndarray, manifest: Manifest) -> list[str]:
    """Held-out images outside the pixels clients send (0-255): the metrics would measure
    inputs the model never gets, and a graph trained on scaled pixels receives unscaled ones."""
    if manifest.input.kind != "image" or x.size == 0:
        return []
    low, high = float(np.min(x)), float(np.max(x))
    if low < 0 or high > 255:
        return [
            f"{source}: x ranges from {low:g} to {high:g}, but images arrive as pixels 0-255: "
            "put any scaling inside the graph"
        ]
    if high <= 1.0:
        return [
            f"{source}: x ranges from {low:g} to {high:g}, as if scaled to 0-1, but images "
            "arrive as pixels 0-255: put the scaling inside the graph (divide by 255 as its "
            "first step) and evaluate on pixels"
        ]
    return []


def _commit(
    models_dir: Path, name: str, data: bytes, manifest: dict[str, Any], card: bytes
) -> tuple[int, Path]:
    """Stage the version whole (graph, model card), then rename it to the next free number,
    as training does."""
    entry = {"file": CARD_FILE, "sha256": hashlib.sha256(card).hexdigest(), "title": "model card"}
    with staging_folder(models_dir, name) as stage:
        (stage / MODEL_FILE).write_bytes(data)
        (stage / CARD_FILE).write_bytes(card)
        published = commit(stage, name, manifest | {"report_files": [entry]})
    return published.version, published.path
