"""Scan-like renders for the training augmentation only: coarse grids, broad pens, stretched
digits, each saved as an image file and read back through the service's upload preprocessing.

Real scans from elsewhere are coarser, thicker and differently normalised than MNIST. The
robustness suite measures that with conditions of its own (``block_scan``, ``thick_pen``,
``stretched`` in ``training.robustness``) that training never renders; what training renders
here is a broader family made by other means, with other parameters and its own seeds:

- ``coarse_grid``: the digit, gray or binarised, stretched part of the way towards a square,
  maybe with a broader pen, box-averaged onto a grid of 6-12 cells and quantised to 4-32
  levels; sent at grid size, or scaled up pixelated or smoothed;
- ``round_nib``: strokes broadened by a round nib (a Gaussian spread of 2-6 px at 4x, cut at a
  level), a shape of pen the suite's square one is not;
- ``aspect``: the digit scaled by 0.7-1.6 across and 0.85-1.15 down, independently.

Each returns the bytes of the file, dark ink on white, like ``training.robustness``'s renderers.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from training.robustness import UPSCALE, Renderer, ink_of, on_white, png_bytes, rank_filter


def coarse_grid(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    ink = digit.astype(np.float32)
    if rng.random() < 0.5:
        ink = (ink >= float(rng.uniform(0.25, 0.65)) * 255) * np.float32(255)
    cells = int(rng.integers(6, 13))
    block = int(rng.integers(3, 6))
    frame = cells * block
    # A margin of about a cell or more: ink touching the frame's edge reads as background.
    inner = max(2, min(frame - 2 * block, round(frame * float(rng.uniform(0.65, 0.85)))))
    glyph = _fit(ink, float(rng.uniform(0.0, 1.0)), inner)
    canvas = np.zeros((frame, frame), dtype=np.float32)
    top = int(rng.integers(block, frame - inner - block + 1))
    left = int(rng.integers(block, frame - inner - block + 1))
    canvas[top : top + inner, left : left + inner] = glyph
    if rng.random() < 0.5:
        canvas = rank_filter(canvas, 3, thicker=True)
    grid = canvas.reshape(cells, block, cells, block).mean(axis=(1, 3))
    levels = int(rng.integers(4, 33)) - 1
    grid = np.round(grid / 255 * levels) * (255 / levels)
    image = on_white(grid)
    if rng.random() < 0.5:
        factor = int(rng.integers(2, 9))
        method = Image.Resampling.NEAREST if rng.random() < 0.5 else Image.Resampling.BILINEAR
        image = image.resize((cells * factor, cells * factor), method)
    return png_bytes(image)


def round_nib(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    ink = ink_of(digit).filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 6))))
    spread = np.asarray(ink, dtype=np.float32)
    cut = float(rng.uniform(0.2, 0.45)) * max(float(spread.max()), 1.0)
    broad = Image.fromarray(((spread >= cut) * 255).astype(np.uint8), "L")
    softened = np.asarray(broad.filter(ImageFilter.GaussianBlur(UPSCALE / 4)))
    return png_bytes(on_white(softened))


def aspect(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    ink = ink_of(digit)
    across, down = float(rng.uniform(0.7, 1.6)), float(rng.uniform(0.85, 1.15))
    size = (max(1, round(ink.width * across)), max(1, round(ink.height * down)))
    return png_bytes(on_white(np.asarray(ink.resize(size, Image.Resampling.BICUBIC))))


def _fit(ink: np.ndarray, share: float, side: int) -> np.ndarray:
    """The ink's bounding box scaled into side x side, the narrower side widened by ``share``
    of the difference (bicubic, clipped to 0-255)."""
    rows, cols = np.nonzero(ink > 0)
    if not len(rows):
        return np.zeros((side, side), dtype=np.float32)
    glyph = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = glyph.shape
    long = max(h, w)
    scale = side / long
    size = (
        max(1, round((w + share * (long - w)) * scale)),
        max(1, round((h + share * (long - h)) * scale)),
    )
    fitted = Image.fromarray(glyph.astype(np.float32)).resize(size, Image.Resampling.BICUBIC)
    out = np.zeros((side, side), dtype=np.float32)
    top, left = (side - size[1]) // 2, (side - size[0]) // 2
    out[top : top + size[1], left : left + size[0]] = np.clip(np.asarray(fitted), 0, 255)
    return out


RENDERERS: dict[str, Renderer] = {
    "coarse_grid": coarse_grid,
    "round_nib": round_nib,
    "aspect": aspect,
}
