"""v1's wire format: instances in (image pixels or tabular rows as people write them, or
uploaded images) and predictions out (labels, probabilities, top-k, threshold). Unlike v2,
reading an instance needs the model (its image size, its feature names), so decoding here
ends with rows fitted to the model."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from urllib.parse import parse_qsl

import numpy as np

from modelrepo.manifest import Manifest
from service.api import images, numbers
from service.api.body import parse_json
from service.api.json_budget import JsonBudget
from service.errors import InvalidInput, PayloadTooLarge, describe
from service.handlers.dataplane import JSON_VALUE_BYTES, Scored
from service.handlers.explanations import BLANK_WARNING, blank_rows, looks_blank
from service.handlers.inputs import fit_rows, in_model_datatype
from service.protocol.task_policies import top_k
from service.protocol.tensors import fp32_array, uint8_array
from service.runtime.loaded_model import LoadedModel


@dataclass(frozen=True)
class Options:
    top_k: int
    threshold: float | None
    explain: bool = False


EXPLAIN_VALUES = {"true": True, "1": True, "false": False, "0": False}


def parse_options(query: str, model: LoadedModel, max_top_k: int) -> Options:
    """`?top_k=3&threshold=0.4&explain=true`: top-k is clamped to the classes; threshold in
    (0, 1); explain true or false."""
    task = model.task
    k: int | None = None
    threshold: float | None = None
    explain = False
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "top_k":
            k = numbers.ascii_integer(value)
            if k is None or not 1 <= k <= max_top_k:
                raise InvalidInput(f"top_k must be a whole number from 1 to {max_top_k}")
        elif key == "threshold":
            threshold = numbers.ascii_number(value)
            if threshold is None or not 0 < threshold < 1:
                raise InvalidInput("threshold must be a number strictly between 0 and 1")
            if not task.thresholded:
                raise InvalidInput("threshold applies to binary and multi-label models only")
        elif key == "explain":
            if value.lower() not in EXPLAIN_VALUES:
                raise InvalidInput("explain must be true or false")
            explain = EXPLAIN_VALUES[value.lower()]
        else:
            raise InvalidInput(
                f"unknown query parameter {describe(key)}: use top_k, threshold, explain"
            )
    if threshold is None:
        threshold = task.default_threshold(model.manifest.threshold)
    classes = task.classes(model.manifest.output.width)
    return Options(min(k if k is not None else 3, classes), threshold, explain)


def decode(body: bytes, manifest: Manifest, max_instances: int, budget: JsonBudget) -> np.ndarray:
    """A JSON body `{"instances": [...]}` as the model's input batch."""
    doc = parse_json(body, '{"instances": [...]}', budget)
    return _instances(doc, manifest, max_instances, numbers.may_hold_booleans(body))


def _instances(doc: object, manifest: Manifest, max_instances: int, booleans: bool) -> np.ndarray:
    if type(doc) is not dict or "instances" not in doc:
        raise InvalidInput('the body must be a JSON object {"instances": [...]}')
    extra = set(doc) - {"instances"}
    if extra:
        raise InvalidInput(f"unknown field {describe(sorted(extra)[0])}: only 'instances'")
    instances = doc["instances"]
    if type(instances) is not list:
        raise InvalidInput("instances must be a list")
    if len(instances) > max_instances:
        fit_rows(manifest, np.empty(0), len(instances), max_instances, "instances")  # 413
    if manifest.input.kind == "image":
        values = _image_values(instances, manifest, booleans)
    else:
        values = _tabular_values(instances, manifest)
    return fit_rows(manifest, values, len(instances), max_instances, "instances")


def _image_values(instances: list[object], manifest: Manifest, booleans: bool) -> np.ndarray:
    assert manifest.input.image is not None
    h, w = manifest.input.image.height, manifest.input.image.width
    flat: list[object] = []
    for i, instance in enumerate(instances):
        if type(instance) is list and len(instance) == h * w and type(instance[0]) is not list:
            flat.extend(instance)
        elif (
            type(instance) is list
            and len(instance) == h
            and all(type(row) is list and len(row) == w for row in instance)
        ):
            flat.extend(chain.from_iterable(instance))
        else:
            raise InvalidInput(
                f"instance {i}: model '{manifest.name}' takes {h * w} pixel values (0-255), "
                f"flat or as {h} rows of {w}"
            )
    # Fractional pixels (a float image) are rounded: people send numpy float arrays.
    return uint8_array(flat, "instances", allow_fractions=True, booleans=booleans)


def _tabular_values(instances: list[object], manifest: Manifest) -> np.ndarray:
    names = [f.name for f in manifest.input.features or []]
    flat: list[object] = []
    for i, instance in enumerate(instances):
        if type(instance) is list and len(instance) == len(names):
            flat.extend(instance)
        elif type(instance) is dict:
            missing = [n for n in names if n not in instance]
            unknown = [k for k in instance if k not in names]
            if missing or unknown:
                problems = [f"missing {missing}"] if missing else []
                problems += [f"unknown {describe(unknown)}"] if unknown else []
                raise InvalidInput(
                    f"instance {i}: features {', '.join(problems)}; expected {names}"
                )
            flat.extend(instance[n] for n in names)
        else:
            raise InvalidInput(
                f"instance {i}: give {len(names)} numbers in the order {names}, "
                "or an object keyed by those names"
            )
    return fp32_array(flat, "instances")


# An upload whose shape is this many times wider (or taller) than the model's canvas is
# shrunk to fit: said in the answer, since it is usually several digits for a one-digit model.
ASPECT_WARNING = 2.5


def decode_images(
    blobs: list[bytes], names: list[str], manifest: Manifest, max_pixels: int
) -> tuple[np.ndarray, list[str | None]]:
    """Uploaded PNG or JPEG files as the model's input batch, each brought into its form, and
    a warning per file (None when there is nothing to say)."""
    assert manifest.input.image is not None
    height, width = manifest.input.image.height, manifest.input.image.width
    rows, warnings = [], []
    for name, blob in zip(names, blobs):
        try:
            pixels = images.decode(blob, max_pixels)
            rows.append(images.to_model_input(pixels, height, width))
        except (InvalidInput, PayloadTooLarge) as exc:
            exc.message = f"{describe(name, 60)}: {exc.message}"
            raise
        warnings.append(
            BLANK_WARNING
            if looks_blank(pixels)
            else _aspect_warning(pixels.shape, (height, width), manifest.name)
        )
    batch = np.stack(rows).reshape(len(blobs), *manifest.input.row_shape)
    return in_model_datatype(batch, manifest), warnings


def _aspect_warning(shape: tuple[int, ...], canvas: tuple[int, int], model: str) -> str | None:
    (h, w), (ch, cw) = shape[:2], canvas
    ratio = (w / max(h, 1)) / (cw / ch)
    if 1 / ASPECT_WARNING <= ratio <= ASPECT_WARNING:
        return None
    side = "wider" if ratio > 1 else "taller"
    times = ratio if ratio > 1 else 1 / ratio
    return (
        f"the image is {times:.1f} times {side} than model '{model}' reads ({cw}x{ch}): it was "
        "shrunk to fit, so its digits may be too small to read (one digit per image, or a "
        "model with a wider canvas)"
    )


# A prediction besides its labels and probabilities: keys, the label, a threshold, a file
# name and a warning (each bounded).
PREDICTION_BYTES = 640
TOP_K_ENTRY_BYTES = 64


def row_bytes(model: LoadedModel, options: Options) -> int:
    """The most one prediction takes in the answer: every label with its probability, the
    top k with their labels, and (multi-label) the labels chosen."""
    manifest = model.manifest
    classes = model.task.classes(manifest.output.width)
    labels = manifest.label_bytes + classes * (JSON_VALUE_BYTES + 4)
    top = options.top_k * (manifest.longest_label_bytes + TOP_K_ENTRY_BYTES)
    chosen = manifest.label_bytes + classes * 4 if model.task.thresholded else 0
    return PREDICTION_BYTES + labels + top + chosen


def blank_warnings(rows: np.ndarray, manifest: Manifest) -> list[str | None] | None:
    """For an image model's instances: a warning for each that is blank (None otherwise);
    None for a tabular model."""
    if manifest.input.image is None:
        return None
    blank = blank_rows(rows)
    if not any(blank):
        return None
    return [BLANK_WARNING if b else None for b in blank]


def predictions(
    scored: Scored,
    options: Options,
    files: list[str] | None = None,
    warnings: list[str | None] | None = None,
    explanations: list[dict[str, object]] | None = None,
) -> dict[str, object]:
    model = scored.model
    task, labels, threshold = model.task, model.manifest.labels, options.threshold
    probs = task.class_probabilities(scored.probabilities)
    indices, scores = top_k(probs, options.top_k)
    out = []
    for row, (p, idx, sc) in enumerate(zip(probs.tolist(), indices.tolist(), scores.tolist())):
        label, chosen = task.decide(p, idx[0], labels, threshold)
        prediction: dict[str, object] = {
            "probabilities": dict(zip(labels, p)),
            "top_k": [{"label": labels[i], "index": i, "probability": s} for i, s in zip(idx, sc)],
            "label": label,
        }
        if chosen is not None:
            prediction["labels"] = chosen
        if threshold is not None:
            prediction["threshold"] = threshold
        if files is not None:
            prediction["file"] = files[row]
        if warnings is not None and warnings[row] is not None:
            prediction["warning"] = warnings[row]
        if explanations is not None:
            prediction["explanation"] = explanations[row]
        out.append(prediction)
    return {
        "model": model.name,
        "version": model.version,
        "task": task.name,
        "predictions": out,
    }
