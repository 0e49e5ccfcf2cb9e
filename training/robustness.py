"""The robustness suite: digits rendered the way real uploads arrive, then preprocessed exactly
as the service preprocesses uploads (``uploads.decode`` + ``uploads.to_model_input``).

Each condition turns one MNIST digit (uint8 28x28, light on dark) into the bytes of an image
file a user might send, from a seeded generator:

- ``low_resolution``: drawn or scanned at 7-14 px, then scaled up (pixelated or smoothed);
- ``blurred``: out of focus, Gaussian blur of 0.8-2 px (at MNIST's scale);
- ``stroke_width``: a thicker pen (+1 to +2.5 px) or a thinner one (-0.5 to -1.5 px);
- ``paper_jpeg``: dark ink on light paper under an uneven light gradient, with sensor noise,
  saved as JPEG at quality 30-70;
- ``small_rotated_off_centre``: small in a large frame, off centre, rotated by up to 20 degrees;
- ``block_scan``: an optical scanner of the 1990s: binarised, stretched into a square, a
  broader pen, ink counted in 4x4 blocks of a 32x32 bitmap: an 8x8 file of 17 gray levels;
- ``thick_pen``: a heavy marker, strokes 3-4 px wider than MNIST's;
- ``stretched``: another normalisation, the digit stretched towards filling a square.

The first five are the kinds the training augmentation renders too (with its own seeds); the
last three it never renders (``training.scans`` makes its own, broader family of coarse, heavy
and stretched digits), so they measure conditions the model has not been trained on, as real
scans from elsewhere are. Everything but ``paper_jpeg`` is dark ink on white, as drawing apps
and scanners export it. The suite for a split is a pure function of its digits and a seed.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

import uploads

Renderer = Callable[[np.ndarray, np.random.Generator], bytes]

SUITE_SEED = 2026
# Renders are at 4x MNIST's scale (112 px for a 28 px digit) unless a condition says otherwise.
UPSCALE = 4
# Far above any render here; the service's own limit is a setting.
MAX_PIXELS = 4096 * 4096


def ink_of(digit: np.ndarray, scale: int = UPSCALE) -> Image.Image:
    """The digit's ink (0-255, light on dark) as an 8-bit image ``scale`` times MNIST's size."""
    image = Image.fromarray(digit.astype(np.float32))
    big = image.resize((digit.shape[1] * scale, digit.shape[0] * scale), Image.Resampling.BICUBIC)
    return Image.fromarray(np.clip(np.asarray(big), 0, 255).round().astype(np.uint8), "L")


def on_white(ink: np.ndarray) -> Image.Image:
    """Dark ink on white paper, 8-bit grayscale."""
    return Image.fromarray((255 - np.clip(ink, 0, 255)).round().astype(np.uint8), "L")


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)  # the same pixels, four times faster
    return out.getvalue()


def rank_filter(ink: np.ndarray, size: int, thicker: bool) -> np.ndarray:
    """Grey dilation (thicker) or erosion (thinner) by a size x size square, one axis at a time."""
    pad = size // 2
    out = np.pad(ink, pad, mode="edge")
    for axis in (0, 1):
        windows = np.lib.stride_tricks.sliding_window_view(out, size, axis=axis)
        out = windows.max(axis=-1) if thicker else windows.min(axis=-1)
    return out


def low_resolution(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    size = int(rng.integers(7, 15))
    rows, cols = np.nonzero(digit)
    glyph = digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].astype(np.float32)
    scale = size / max(glyph.shape)
    small = Image.fromarray(glyph).resize(
        (max(1, round(glyph.shape[1] * scale)), max(1, round(glyph.shape[0] * scale))),
        Image.Resampling.BOX,  # a coarse sensor averages the light falling on each pixel
    )
    framed = np.zeros((small.height + 4, small.width + 4), dtype=np.float32)
    framed[2:-2, 2:-2] = np.asarray(small)
    factor = int(rng.integers(8, 17))
    method = Image.Resampling.NEAREST if rng.random() < 0.5 else Image.Resampling.BILINEAR
    big = Image.fromarray(framed).resize(
        (framed.shape[1] * factor, framed.shape[0] * factor), method
    )
    return png_bytes(on_white(np.asarray(big)))


def blurred(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    sigma = float(rng.uniform(0.8, 2.0)) * UPSCALE
    image = ink_of(digit).filter(ImageFilter.GaussianBlur(sigma))
    return png_bytes(on_white(np.asarray(image)))


def stroke_width(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    ink = np.asarray(ink_of(digit))
    if rng.random() < 0.5:
        ink = rank_filter(ink, int(rng.choice([5, 7, 9, 11])), thicker=True)
    else:
        ink = rank_filter(ink, int(rng.choice([3, 5, 7])), thicker=False)
    return png_bytes(on_white(ink))


def paper_jpeg(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    ink = np.asarray(ink_of(digit), dtype=np.float32) / 255.0
    h, w = ink.shape
    paper = float(rng.uniform(170, 235))
    ink_level = float(rng.uniform(15, 90))
    # A linear light gradient in a random direction, up to 60 grey levels across the sheet.
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:h, 0:w] / max(h, w) - 0.5
    light = float(rng.uniform(20, 60)) * (np.cos(angle) * xs + np.sin(angle) * ys)
    grey = (paper + light) * (1 - ink) + ink_level * ink
    grey = grey + rng.normal(0, float(rng.uniform(3, 12)), size=grey.shape)
    # Warm or cool paper: the three channels differ a little, as in a phone photo.
    tint = 1 + rng.uniform(-0.06, 0.06, size=3)
    rgb = np.clip(grey[..., None] * tint, 0, 255).round().astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(out, format="JPEG", quality=int(rng.integers(30, 71)))
    return out.getvalue()


def small_rotated_off_centre(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    frame = int(rng.integers(160, 321))
    size = int(frame * rng.uniform(0.15, 0.35))  # the 28 px field's side in the frame
    glyph = Image.fromarray(digit.astype(np.float32)).resize((size, size), Image.Resampling.BICUBIC)
    glyph = glyph.rotate(float(rng.uniform(-20, 20)), Image.Resampling.BICUBIC, expand=True)
    canvas = np.zeros((frame, frame), dtype=np.float32)
    top = int(rng.integers(0, frame - glyph.height + 1))
    left = int(rng.integers(0, frame - glyph.width + 1))
    canvas[top : top + glyph.height, left : left + glyph.width] = np.asarray(glyph)
    return png_bytes(on_white(canvas))


def _stretch_to_square(ink: np.ndarray, share: float, side: int) -> np.ndarray:
    """The ink's bounding box scaled into a side x side square, its narrower side widened by
    ``share`` of the difference (1: filling the square, aspect not kept; 0: aspect kept)."""
    rows, cols = np.nonzero(ink > 0)
    glyph = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].astype(np.float32)
    h, w = glyph.shape
    long = max(h, w)
    new_h, new_w = (h + share * (long - h)), (w + share * (long - w))
    scale = side / long
    size = (max(1, round(new_w * scale)), max(1, round(new_h * scale)))
    fitted = np.asarray(Image.fromarray(glyph).resize(size, Image.Resampling.BILINEAR))
    square = np.zeros((side, side), dtype=np.float32)
    top, left = (side - fitted.shape[0]) // 2, (side - fitted.shape[1]) // 2
    square[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return square


def block_scan(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """An optical scanner's block counts: the digit binarised, normalised into 22-28 px of a
    32x32 square (stretched towards filling it), written with a pen 0-4 px broader at that
    scale, and the ink pixels of each 4x4 block counted: an 8x8 image of 17 gray levels, sent
    as the file itself."""
    binary = (digit.astype(np.float32) >= float(rng.uniform(0.3, 0.6)) * 255).astype(np.float32)
    inner = int(rng.integers(22, 29))  # the scanner's box leaves a margin in the square
    square = np.zeros((32, 32), dtype=np.float32)
    top = (32 - inner) // 2
    square[top : top + inner, top : top + inner] = _stretch_to_square(
        binary * 255, float(rng.uniform(0.25, 1.0)), inner
    )
    pen = rank_filter(square, int(rng.choice([1, 3, 5])), thicker=True) >= 128
    counts = pen.reshape(8, 4, 8, 4).sum(axis=(1, 3))
    return png_bytes(on_white(counts * 255.0 / 16))


def thick_pen(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A heavy marker: strokes 3-4 px wider than MNIST's (at its scale)."""
    ink = rank_filter(np.asarray(ink_of(digit)), int(rng.choice([13, 15, 17])), thicker=True)
    return png_bytes(on_white(ink))


def stretched(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """Another normalisation: the digit stretched towards filling a square (a 1 as wide as a 0)."""
    ink = _stretch_to_square(
        np.asarray(ink_of(digit), dtype=np.float32), rng.uniform(0.6, 1.0), 112
    )
    return png_bytes(on_white(np.pad(ink, 8)))


DESCRIPTIONS = {
    "low_resolution": "drawn or scanned at 7-14 px, then scaled up (pixelated or smoothed)",
    "blurred": "out of focus: Gaussian blur of 0.8-2 px at MNIST's scale",
    "stroke_width": "a thicker (+1 to +2.5 px) or thinner (-0.5 to -1.5 px) pen",
    "paper_jpeg": "dark ink on light paper, uneven light, sensor noise, JPEG quality 30-70",
    "small_rotated_off_centre": "15-35% of a 160-320 px frame, off centre, rotated up to 20 deg",
    "block_scan": "binarised, stretched into a 32 px square, a broader pen, ink counted in 4x4 "
    "blocks: an 8x8 file of 17 levels",
    "thick_pen": "a heavy marker: strokes 3-4 px wider",
    "stretched": "stretched towards filling a square, aspect not kept",
}

# The conditions the training augmentation renders too (its own seeds, never these renders).
TRAINED_KINDS = (
    "low_resolution",
    "blurred",
    "stroke_width",
    "paper_jpeg",
    "small_rotated_off_centre",
)

CONDITIONS: dict[str, Renderer] = {
    "low_resolution": low_resolution,
    "blurred": blurred,
    "stroke_width": stroke_width,
    "paper_jpeg": paper_jpeg,
    "small_rotated_off_centre": small_rotated_off_centre,
    "block_scan": block_scan,
    "thick_pen": thick_pen,
    "stretched": stretched,
}


def ink_png(digit: np.ndarray) -> bytes:
    """The digit as it is, dark on white at 4x: what the conditions change."""
    return png_bytes(on_white(np.asarray(ink_of(digit))))


def as_uploaded(data: bytes, height: int = 28, width: int = 28) -> np.ndarray:
    """An image file as the service hands it to a model: uint8 (height, width)."""
    return uploads.to_model_input(uploads.decode(data, MAX_PIXELS), height, width)


def render(condition: str, digits: np.ndarray, seed: int) -> np.ndarray:
    """``digits`` (n, 28, 28) under one condition, preprocessed as uploads: uint8 (n, 28, 28).

    Row ``i`` depends only on (seed, condition, i, digit i), so a prefix of a split renders the
    same as the whole split does.
    """
    renderer = CONDITIONS[condition]
    index = list(CONDITIONS).index(condition)
    out = np.empty((len(digits), 28, 28), dtype=np.uint8)
    for i, digit in enumerate(digits):
        rng = np.random.default_rng([seed, index, i])
        out[i] = as_uploaded(renderer(np.asarray(digit), rng))
    return out


def suite(digits: np.ndarray, seed: int = SUITE_SEED) -> dict[str, np.ndarray]:
    """Every condition of the suite on ``digits``: {condition: uint8 (n, 28, 28)}."""
    return {name: render(name, digits, seed) for name in CONDITIONS}
