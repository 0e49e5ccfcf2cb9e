"""Why a model answered as it did (`?explain=true` on v1 predictions), for any served model,
computed with the model itself: perturbed copies of each instance go through the model in one
batched call (its batcher and inference thread, as any request's rows), and the change in the
probability of the instance's top class is read off.

- Images: **occlusion**. Square patches of the image (a seventh of its shorter side, every
  half patch) are set to the background (0, no ink) one at a time; a pixel's attribution is
  the mean drop in the top class's probability over the patches that cover it. Positive: the
  ink there is evidence for the answer; negative: against it. Patches with no ink change
  nothing and are not run. An H x W array over the model's input, given beside it (what the
  model read: an upload as fitted to its canvas).
- Tabular rows: **sensitivity**. Each feature is moved 10 % of its value (0.1 when it is 0)
  up and down, the others held; its attribution is half the difference of the top class's
  probability between the two: positive, a higher value would favour the answer; negative,
  it holds the answer back. No baseline row is needed (a row of zeros is far outside most
  models' data, in natural units), and the unit is the same for every feature.

The cost is bounded, whatever the model: at most MAX_EXPLAINED instances per request, at most
MAX_OCCLUSIONS patches per image (the stride grows on larger canvases) of at most
MAX_MAP_PIXELS, 2 rows per feature for at most MAX_FEATURES features, MAX_EXPLAIN_BYTES of
perturbed input per request, and one
batched call of the model for all of it. Building the copies and reading the results run on
a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from modelrepo.manifest import Manifest
from service.errors import InvalidInput
from service.protocol.datatypes import DATATYPES
from service.runtime.loaded_model import LoadedModel

MAX_EXPLAINED = 8  # instances per request
MAX_OCCLUSIONS = 256  # perturbed copies per image
MAX_FEATURES = 256  # 2 perturbed copies each
MAX_EXPLAIN_BYTES = 64 * 1024 * 1024  # of perturbed input per request
MAX_MAP_PIXELS = 256 * 256  # an image's map (and its input) in the answer
STEP = 0.1  # tabular: the relative move of each feature
DIGITS = 4  # attributions are rounded to this many decimals

OCCLUSION = "occlusion"
SENSITIVITY = "sensitivity"

# Images with less ink than this (against their background, 0-255) or fewer inked pixels
# are blank as far as any model can tell.
FAINTEST_INK = 40.0
FEWEST_INK_PIXELS = 10
BLANK_WARNING = (
    "no digit or drawing found: the image is blank or nearly so, so this answer is a guess"
)


def looks_blank(pixels: np.ndarray) -> bool:
    """Whether a grayscale image (2-D, 0-255, ink light or dark) has nothing to read: the
    background taken from its border, as the upload preprocessing takes it."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = float(np.median(border))
    values = pixels.astype(np.float32, copy=False)
    ink = np.abs(values - background)
    peak = float(ink.max()) if ink.size else 0.0
    return peak < FAINTEST_INK or int(np.count_nonzero(ink >= 0.2 * peak)) < FEWEST_INK_PIXELS


def blank_rows(rows: np.ndarray) -> list[bool]:
    """For a batch of model input (light ink on 0, as image models take it), which rows are
    blank: fewer than FEWEST_INK_PIXELS pixels of ink (at least FAINTEST_INK). Every v1
    request to an image model runs it: a row of bytes is counted by bytes.translate, in C,
    where numpy's calls would cost ten times as much for the usual one row."""
    if rows.dtype == np.uint8 and len(rows) <= 16:
        data, size = rows.tobytes(), rows[0].size
        return [
            len(data[start : start + size].translate(None, _FAINT)) < FEWEST_INK_PIXELS
            for start in range(0, len(data), size)
        ]
    inked = (rows.reshape(len(rows), -1) >= FAINTEST_INK).sum(axis=1)
    return (inked < FEWEST_INK_PIXELS).tolist()


_FAINT = bytes(range(int(FAINTEST_INK)))  # the byte values that are not ink


def check(manifest: Manifest, instances: int) -> None:
    """InvalidInput when explaining `instances` instances of this model would cost more than
    a request may: said before any work."""
    if instances > MAX_EXPLAINED:
        raise InvalidInput(
            f"explain covers at most {MAX_EXPLAINED} instances per request; got {instances}: "
            "send the others without explain=true"
        )
    spec = manifest.input
    if spec.kind == "image" and spec.row_size > MAX_MAP_PIXELS:
        raise InvalidInput(
            f"explain draws maps of up to {MAX_MAP_PIXELS} pixels; model '{manifest.name}' "
            f"reads {spec.row_size}"
        )
    if spec.kind == "tabular" and spec.row_size > MAX_FEATURES:
        raise InvalidInput(f"explain covers tabular models of up to {MAX_FEATURES} features")
    row_bytes = spec.row_size * DATATYPES[spec.datatype].numpy.itemsize
    if instances * _copies(manifest) * row_bytes > MAX_EXPLAIN_BYTES:
        raise InvalidInput(
            f"explaining {instances} instances of model '{manifest.name}' would take more than "
            f"{MAX_EXPLAIN_BYTES // 2**20} MiB of perturbed input: send fewer per request"
        )


@dataclass(frozen=True)
class _Perturbed:
    rows: np.ndarray  # the copies to run, in the model's input shape
    read: Callable[[np.ndarray], dict[str, object]]  # their top-class probabilities -> answer


async def explain(
    model: LoadedModel, rows: np.ndarray, probabilities: np.ndarray
) -> list[dict[str, object]]:
    """An explanation per row of `rows` (fitted to the model), for its top class in
    `probabilities` (the class probabilities the prediction lists)."""
    check(model.manifest, len(rows))
    targets = np.argmax(probabilities, axis=1)
    base = probabilities[np.arange(len(rows)), targets]
    plans = await asyncio.to_thread(_perturb, model.manifest, rows, targets, base)
    counts = [len(p.rows) for p in plans]
    if sum(counts):
        batch = np.concatenate([p.rows for p in plans if len(p.rows)])
        result = await model.infer(batch)  # one batched call, on the model's inference thread
        scores = model.task.class_probabilities(result.outputs[1])
    else:
        scores = np.empty((0, probabilities.shape[1]))
    return await asyncio.to_thread(_read, model, plans, counts, scores, targets)


def _read(
    model: LoadedModel,
    plans: list[_Perturbed],
    counts: list[int],
    scores: np.ndarray,
    targets: np.ndarray,
) -> list[dict[str, object]]:
    labels = model.manifest.labels  # the class probabilities' columns, for every kind
    explained, start = [], 0
    for plan, count, target in zip(plans, counts, targets):
        seen = scores[start : start + count, target]
        start += count
        explained.append({"label": labels[int(target)], **plan.read(seen)})
    return explained


def _copies(manifest: Manifest) -> int:
    spec = manifest.input
    if spec.kind == "image" and spec.image is not None:
        return len(_patches(spec.image.height, spec.image.width)[0])
    return 2 * spec.row_size


def _perturb(
    manifest: Manifest, rows: np.ndarray, targets: np.ndarray, base: np.ndarray
) -> list[_Perturbed]:
    spec = manifest.input
    if spec.kind == "image" and spec.image is not None:
        h, w = spec.image.height, spec.image.width
        return [_occlusion(row, h, w, float(p)) for row, p in zip(rows, base)]
    return [_sensitivity(row, [f.name for f in spec.features or []]) for row in rows]


def _patches(height: int, width: int) -> tuple[list[tuple[int, int]], int]:
    """Top-left corners of the occluding patches, and their side: a seventh of the shorter
    side, every half patch, the stride grown until there are at most MAX_OCCLUSIONS."""
    side = max(1, round(min(height, width) / 7))
    stride = max(1, side // 2)
    while True:
        ys = _positions(height, side, stride)
        xs = _positions(width, side, stride)
        if len(ys) * len(xs) <= MAX_OCCLUSIONS:
            return [(y, x) for y in ys for x in xs], side
        stride += 1
        side = max(side, stride)  # patches keep covering the whole image


def _positions(length: int, side: int, stride: int) -> list[int]:
    last = max(length - side, 0)
    found = list(range(0, last + 1, stride))
    return found if found[-1] == last else [*found, last]


def _occlusion(row: np.ndarray, height: int, width: int, base: float) -> _Perturbed:
    image = row.reshape(height, width)
    corners, side = _patches(height, width)
    inked = [(y, x) for y, x in corners if image[y : y + side, x : x + side].any()]
    copies = np.repeat(image[None], len(inked), axis=0)
    for copy, (y, x) in zip(copies, inked):
        copy[y : y + side, x : x + side] = 0
    shape = (len(inked), *row.shape)

    def read(seen: np.ndarray) -> dict[str, object]:
        drop = np.zeros((height, width), np.float64)
        cover = np.zeros((height, width), np.float64)
        for (y, x), p in zip(inked, seen.tolist()):
            drop[y : y + side, x : x + side] += base - p
        for y, x in corners:
            cover[y : y + side, x : x + side] += 1
        attributions = np.round(drop / np.maximum(cover, 1), DIGITS)
        return {
            "method": OCCLUSION,
            "patch": side,
            "attributions": attributions.tolist(),
            # What the model read (an upload fitted to its canvas): the map's background.
            "input": image.tolist() if image.dtype == np.uint8 else np.round(image, 2).tolist(),
        }

    return _Perturbed(copies.reshape(shape), read)


def _sensitivity(row: np.ndarray, names: list[str]) -> _Perturbed:
    values = row.astype(np.float64)
    steps = np.where(values != 0, np.abs(values) * STEP, STEP)
    n = len(values)
    copies = np.repeat(values[None], 2 * n, axis=0)
    copies[np.arange(n) * 2, np.arange(n)] += steps  # up
    copies[np.arange(n) * 2 + 1, np.arange(n)] -= steps  # down

    def read(seen: np.ndarray) -> dict[str, object]:
        effect = (seen[0::2] - seen[1::2]) / 2
        return {
            "method": SENSITIVITY,
            "step": STEP,
            "attributions": {
                name: round(float(v), DIGITS) if math.isfinite(v) else 0.0
                for name, v in zip(names, effect.tolist())
            },
        }

    return _Perturbed(copies.astype(row.dtype).reshape(2 * n, *row.shape), read)
