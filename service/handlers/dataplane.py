"""The data plane: what every transport calls between decoding a request and encoding the
answer, in the manner of MLServer's and KServe's `dataplane.py`.

A transport (HTTP v1 and v2 in api/, gRPC next) resolves the model a request addresses
(`model`), decodes its wire format, calls one of these, and encodes what comes back:

- `infer`: an Open Inference Protocol request (messages.py), from HTTP v2 or gRPC. Its
  input is fitted to the model (inputs.py), its requested outputs checked, the rows scored,
  and the outputs built, with Triton's classification extension.
- `score`: rows already fitted to the model, from v1, which reads people's instances into
  rows itself. `infer` comes through here too (`_score`): the one way to a model, where a
  failure becomes InferenceFailed and the timings go to the version's metrics.

Both count each request in the version's Triton statistics (statistics.py): its time, and
whether it succeeded. Both bound the response before the model runs: rows times the bytes a
row's answer takes (its classes, their labels) must fit `max_response_bytes`, or the request
is refused (413), saying how many rows fit and what else shrinks the answer.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np

from service.errors import InferenceFailed, InvalidInput, PayloadTooLarge, ServiceError
from service.handlers.inputs import fit_tensors
from service.protocol.messages import (
    InferenceRequest,
    InferenceResponse,
    OutputTensor,
    RequestedOutput,
)
from service.protocol.task_policies import top_k
from service.runtime.loaded_model import OUTPUTS, LoadedModel, UnusableOutput
from service.serving.registry import Registry

perf_counter = time.perf_counter

log = logging.getLogger("logitserve.inference")

MAX_ID_LENGTH = 256
MB = 1_000_000
# The most a value takes in a JSON answer ("-1.2345678901234567e-308," is 25 bytes), and a
# classification string besides its label ("-123456789.123456:99999:" and quotes, comma).
JSON_VALUE_BYTES = 25
CLASS_ENTRY_BYTES = 48
TOP_K_ADVICE = "ask for the top k classes only (outputs[].parameters.classification)"


# Built for every request: slots, not frozen (a frozen dataclass costs ~1 us to build here).
@dataclass(slots=True)
class Scored:
    model: LoadedModel
    logits: np.ndarray  # (n, K) as the model produced them
    probabilities: np.ndarray  # (n, K) after the task's activation
    queue_s: float  # waiting for the batched call
    infer_s: float  # the batched call


# What a request without "outputs" gets: built once.
_EVERY_OUTPUT = {
    binary: tuple(RequestedOutput(name, 0, binary) for name in OUTPUTS) for binary in (False, True)
}


class DataPlane:
    def __init__(
        self, registry: Registry, max_instances: int, max_response_bytes: int = 16 * 1024 * 1024
    ) -> None:
        self._registry = registry
        self._max_instances = max_instances
        self._max_response_bytes = max_response_bytes

    def model(self, name: str, version: str | None = None) -> LoadedModel:
        """The model a request addresses, or NotFound / NotReady / InvalidInput."""
        return self._registry.resolve(name, version)

    async def infer(self, model: LoadedModel, request: InferenceRequest) -> InferenceResponse:
        started = perf_counter()
        try:
            if request.id is not None and len(request.id) > MAX_ID_LENGTH:
                raise InvalidInput(f"id must be a string of at most {MAX_ID_LENGTH} characters")
            rows = fit_tensors(model.manifest, request.inputs, self._max_instances)
            outputs = (
                _EVERY_OUTPUT[request.binary_outputs]
                if request.outputs is None
                else _requested_outputs(model, request.outputs)
            )
            self._bound(len(rows), row_bytes(model, outputs), TOP_K_ADVICE)
            fitted = perf_counter()
            scored = await self._score(model, rows)
            returned = perf_counter()
            response = InferenceResponse(
                model.name,
                str(model.version),
                request.id,
                [_output(scored, requested) for requested in outputs],
            )
        except ServiceError:
            model.metrics.statistics.failed(perf_counter() - started)
            raise
        done = perf_counter()
        model.metrics.statistics.succeeded(
            len(rows),
            done - started,
            scored.queue_s,
            scored.infer_s,
            fitted - started,
            done - returned,
        )
        return response

    async def score(
        self, model: LoadedModel, rows: np.ndarray, answer_bytes: int = 0, advice: str = ""
    ) -> Scored:
        """Run rows fitted to the model through it, batched with concurrent requests; the
        answer will take about `answer_bytes` per row (the caller's wire format), which must
        fit the response limit (`advice`: what else shrinks it)."""
        started = perf_counter()
        try:
            self._bound(len(rows), answer_bytes, advice)
            scored = await self._score(model, rows)
        except ServiceError:
            model.metrics.statistics.failed(perf_counter() - started)
            raise
        model.metrics.statistics.succeeded(
            len(rows), perf_counter() - started, scored.queue_s, scored.infer_s
        )
        return scored

    def _bound(self, rows: int, per_row: int, advice: str) -> None:
        """PayloadTooLarge unless `rows` answers of `per_row` bytes fit the response limit."""
        limit = self._max_response_bytes
        if rows * per_row <= limit:
            return
        fit = limit // per_row
        what = f"send at most {fit} rows per request" if fit else "send one row per request"
        raise PayloadTooLarge(
            f"the answer would take about {_size(rows * per_row)} ({rows} rows of {per_row} "
            f"bytes), over the limit of {_size(limit)} (--max-response-bytes): "
            + (f"{what}, or {advice}" if advice else what)
        )

    async def _score(self, model: LoadedModel, rows: np.ndarray) -> Scored:
        try:
            result = await model.infer(rows)
        except UnusableOutput:
            model.metrics.failure()
            log.error(
                "model produced unusable output",
                extra={"model": model.name, "version": model.version},
            )
            raise InferenceFailed(
                f"model '{model.name}' version {model.version} produced non-finite or "
                "misshapen output"
            ) from None
        except Exception:
            model.metrics.failure()
            log.exception("inference failed", extra={"model": model.name, "version": model.version})
            raise InferenceFailed(
                f"inference failed in model '{model.name}' version {model.version}"
            ) from None
        model.metrics.call(result.queue_s, result.infer_s)
        logits, probabilities = result.outputs
        return Scored(model, logits, probabilities, result.queue_s, result.infer_s)


def _size(count: int) -> str:
    return f"{count / MB:.1f} MB" if count >= MB else f"{count} bytes"


def row_bytes(model: LoadedModel, outputs: tuple[RequestedOutput, ...]) -> int:
    """The most one row's outputs take in an answer: values as JSON text (binary ones as
    4 bytes), classification strings with the longest label."""
    width = model.manifest.output.width
    total = 0
    for requested in outputs:
        if requested.classification:
            label = model.manifest.longest_label_bytes
            total += requested.classification * (CLASS_ENTRY_BYTES + label)
        else:
            total += width * (4 if requested.binary else JSON_VALUE_BYTES)
    return total


def _requested_outputs(
    model: LoadedModel, outputs: tuple[RequestedOutput, ...]
) -> tuple[RequestedOutput, ...]:
    seen: set[str] = set()
    classifies = False
    for requested in outputs:
        if requested.name not in OUTPUTS:
            raise InvalidInput(f"outputs: model '{model.name}' has outputs {list(OUTPUTS)}")
        if requested.name in seen:
            raise InvalidInput(f"outputs: '{requested.name}' is requested twice")
        seen.add(requested.name)
        classifies |= requested.classification > 0
    if not classifies:
        return outputs
    # As Triton: at most as many classes as the output tensor has columns.
    width = model.manifest.output.width
    return tuple(replace(r, classification=min(r.classification, width)) for r in outputs)


def _output(scored: Scored, requested: RequestedOutput) -> OutputTensor:
    tensor = scored.probabilities if requested.name == "probabilities" else scored.logits
    k = requested.classification
    if k:
        strings = _classification(scored.model, tensor, k)
        flat = [s for row in strings for s in row]
        return OutputTensor(requested.name, "BYTES", [len(strings), k], flat, requested.binary)
    return OutputTensor(requested.name, "FP32", list(tensor.shape), tensor, requested.binary)


def _classification(model: LoadedModel, tensor: np.ndarray, k: int) -> list[list[str]]:
    """Triton's classification extension: per row, the k largest values of the requested
    output tensor as 'value:index:label', largest first. The value is that tensor's (a
    logit when logits are asked for); the index is the column; the label is the column's."""
    indices, values = top_k(tensor, k)
    labels = model.task.column_labels(model.manifest.labels)
    return [
        [f"{v:f}:{i}:{labels[i]}" for i, v in zip(row_i.tolist(), row_v.tolist())]
        for row_i, row_v in zip(indices, values)
    ]
