"""Uploaded photos and scans of digits, brought into the form MNIST was made in.

MNIST digits are light on dark, fitted into a 20x20 box and centred by mass in a 28x28
field. A phone photo of a digit on paper is dark on light, any size, anywhere in the frame:
`decode` opens it (PNG and JPEG only, size checked before decoding) as grayscale, and
`to_model_input` inverts dark-on-light images, crops to the ink, scales it into the model's box
and centres it by mass. A model with a wider canvas (the multi-label one) gets its own size with
the same 4-pixel margin.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# The declared size is checked here, before decoding and well below Pillow's own limit.
Image.MAX_IMAGE_PIXELS = None

MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}
MARGIN = 4  # MNIST: a 20x20 box in a 28x28 field


class UndecodableImage(ValueError):
    """Empty, truncated or corrupt image data."""


class UnsupportedImageType(ValueError):
    """Neither PNG nor JPEG."""


class ImageTooLarge(ValueError):
    """The image declares more pixels than the caller allows."""


def sniff(data: bytes) -> str:
    """'PNG' or 'JPEG' by the file's first bytes; anything else is refused unopened."""
    if not data:
        raise UndecodableImage("empty image file")
    for magic, kind in MAGIC.items():
        if data.startswith(magic):
            return kind
    raise UnsupportedImageType("only PNG and JPEG images are accepted")


def decode(data: bytes, max_pixels: int) -> np.ndarray:
    """Grayscale float32 pixels (0-255) of a PNG or JPEG, EXIF rotation applied."""
    kind = sniff(data)
    try:
        image: Image.Image = Image.open(io.BytesIO(data), formats=[kind])
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise UndecodableImage(f"undecodable {kind} image") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the image declares {width}x{height} pixels, more than the limit of {max_pixels}"
        )
    if kind == "JPEG":
        # Decode big photos at a reduced scale straight from the DCT: far less work and memory.
        image.draft("L", (max(width // 8, 256), max(height // 8, 256)))
    try:
        image.load()
        image = ImageOps.exif_transpose(image) or image
        return _grayscale(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise UndecodableImage(f"undecodable {kind} image (truncated or corrupt)") from None


def _grayscale(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA"):
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32)
        if alpha.min() < 255:
            # A drawing on a transparent canvas: the ink is where it is opaque, whatever its colour.
            return alpha
        image = image.convert("L")
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else max(float(values.max()), 1.0)
        return (np.clip(values, 0, top) * (255.0 / top)).astype(np.float32)
    if mode == "CMYK":
        image = image.convert("RGB")
    return np.asarray(image.convert("L"), dtype=np.float32)


def to_model_input(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """MNIST's form: light ink on black, the ink fitted into the box, centred by mass."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = float(np.median(border))
    ink = pixels - background if background < 128 else background - pixels
    ink = np.clip(ink, 0, None)
    peak = float(ink.max()) if ink.size else 0.0
    canvas = np.zeros((height, width), dtype=np.float32)
    if peak <= 0:
        return canvas.astype(np.uint8)  # a blank image is valid input; it predicts what it predicts
    ink[ink < 0.2 * peak] = 0  # paper texture and lighting gradients are not ink
    ink *= 255.0 / peak
    rows, cols = np.nonzero(ink)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]

    box_h, box_w = max(height - 2 * MARGIN, 1), max(width - 2 * MARGIN, 1)
    scale = min(box_h / ink.shape[0], box_w / ink.shape[1])
    new_h = max(1, min(box_h, round(ink.shape[0] * scale)))
    new_w = max(1, min(box_w, round(ink.shape[1] * scale)))
    resized = Image.fromarray(ink.astype(np.float32, copy=False)).resize(
        (new_w, new_h), Image.Resampling.LANCZOS
    )
    glyph = np.clip(np.asarray(resized, dtype=np.float32), 0, 255)

    total = float(glyph.sum())
    ys, xs = np.indices(glyph.shape)
    cy = float((ys * glyph).sum()) / total if total > 0 else glyph.shape[0] / 2
    cx = float((xs * glyph).sum()) / total if total > 0 else glyph.shape[1] / 2
    top = int(round(height / 2 - cy - 0.5))
    left = int(round(width / 2 - cx - 0.5))
    top = min(max(top, 0), height - new_h)
    left = min(max(left, 0), width - new_w)
    canvas[top : top + new_h, left : left + new_w] = glyph
    return np.rint(canvas).astype(np.uint8)
