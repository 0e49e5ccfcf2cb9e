"""The transport-free core: fit rows to a model, run them, turn logits into probabilities.

v1 and v2 both come through here; they differ only in how they read requests and write
responses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from service.activations import ACTIVATIONS
from service.errors import InferenceFailed, InvalidInput, PayloadTooLarge
from service.manifest import Manifest
from service.metrics import Metrics

if TYPE_CHECKING:  # the registry builds its batchers with `scorer`
    from service.registry import LoadedModel

log = logging.getLogger("logitserve.inference")


# Built for every request: slots, not frozen (a frozen dataclass costs ~1 us to build here).
@dataclass(slots=True)
class Scored:
    model: LoadedModel
    logits: np.ndarray  # (n, K) as the model produced them
    probabilities: np.ndarray  # (n, K) after softmax or sigmoid
    queue_s: float
    infer_s: float


def fit_rows(
    manifest: Manifest, values: np.ndarray, rows: int, max_rows: int, what: str
) -> np.ndarray:
    """A flat array of `rows` instances as the model's input batch, or InvalidInput."""
    if rows < 1:
        raise InvalidInput(f"{what}: at least one instance is needed")
    if rows > max_rows:
        raise PayloadTooLarge(f"{what}: {rows} instances, more than the limit of {max_rows}")
    if values.size != rows * manifest.input.row_size:
        raise InvalidInput(
            f"{what}: each instance of model '{manifest.name}' has {manifest.input.row_size} "
            f"values ({describe_row(manifest)}); got {values.size} values for {rows} instance(s)"
        )
    return values.reshape(rows, *manifest.input.row_shape)


def describe_row(manifest: Manifest) -> str:
    spec = manifest.input
    if spec.kind == "image" and spec.image is not None:
        return f"a {spec.image.height}x{spec.image.width} image, pixels 0-255"
    return "features " + ", ".join(f.name for f in spec.features or [])


class UnusableOutput(Exception):
    """The model's logits for a batch were non-finite or of the wrong shape."""


def scorer(
    logits_of: Callable[[np.ndarray], np.ndarray], manifest: Manifest
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """What one batched call computes: (logits, probabilities) for a batch of rows.

    The check and the activation run once per batch, wherever the batch runs: per request
    they paid numpy's fixed cost per call each time (softmax of a 64-row slice 11 us, of
    512 rows 20 us), and on the inference thread they leave the event loop free.
    """
    activation = ACTIVATIONS[manifest.output.activation]
    width = manifest.output.width

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits = logits_of(batch)
        if logits.shape != (len(batch), width) or not np.isfinite(logits).all():
            raise UnusableOutput
        return logits, activation(logits)

    return run


async def score(model: LoadedModel, rows: np.ndarray, metrics: Metrics) -> Scored:
    """Run validated rows through the model (batched with concurrent requests)."""
    version = str(model.version)
    try:
        result = await model.infer(rows)
    except UnusableOutput:
        metrics.failure(model.name, version)
        log.error(
            "model produced unusable output", extra={"model": model.name, "version": model.version}
        )
        raise InferenceFailed(
            f"model '{model.name}' version {model.version} produced non-finite or misshapen output"
        ) from None
    except Exception:
        metrics.failure(model.name, version)
        log.exception("inference failed", extra={"model": model.name, "version": model.version})
        raise InferenceFailed(
            f"inference failed in model '{model.name}' version {model.version}"
        ) from None
    logits, probabilities = result.outputs
    metrics.inference(model.name, version, result.queue_s, result.infer_s)
    return Scored(model, logits, probabilities, result.queue_s, result.infer_s)


def class_probabilities(manifest: Manifest, probabilities: np.ndarray) -> np.ndarray:
    """One column per label: a binary model's single sigmoid becomes [1 - p, p]."""
    if manifest.task == "binary":
        return np.column_stack([1.0 - probabilities[:, 0], probabilities[:, 0]])
    return probabilities


def top_k(class_probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k most probable classes per row: (indices, probabilities), most probable first."""
    k = max(1, min(k, class_probs.shape[1]))
    # A stable sort keeps ties in label order, so equal scores come out predictably.
    indices = np.argsort(-class_probs, axis=1, kind="stable")[:, :k]
    return indices, class_probs[np.arange(len(indices))[:, None], indices]
