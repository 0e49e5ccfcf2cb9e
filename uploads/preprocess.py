"""Uploaded photos and scans of digits, brought into the form MNIST was made in.

MNIST digits are light on dark, fitted into a 20x20 box and centred by mass in a 28x28
field. A phone photo of a digit on paper is dark on light, any size, anywhere in the frame:
`decode` opens it (PNG and JPEG only, size and shape checked before decoding) as grayscale,
reduced to at most WORK_SIDE pixels a side, and `to_model_input` inverts dark-on-light images,
crops to the ink, scales it into the model's box and centres it by mass. A model with a wider
canvas (the multi-label one) gets its own size with the same 4-pixel margin; a smaller canvas,
a margin in proportion.

What one upload costs is bounded by what the model needs, not by what the file declares: at
full size only Pillow's own operations run, on a byte per pixel.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

# The declared size is checked here, before decoding and well below Pillow's own limit.
Image.MAX_IMAGE_PIXELS = None

MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}
MARGIN = 4  # MNIST: a 20x20 box in a 28x28 field
MNIST_SIDE = 28
# Decoded images are box-reduced until their longer side is at most this, before any work per
# pixel: a 16-megapixel upload (or a 1 x 16,000,000 line) then costs what a 1-megapixel one
# does, while a digit that fills a twentieth of the frame still spans 50 pixels.
WORK_SIDE = 1024
# Sides further apart than this are refused: no digit, nor a row of three, is that shape.
MAX_ASPECT = 20
EXIF_ORIENTATION = 0x0112
# What Pillow's ImageOps.exif_transpose does per orientation, applied to the reduced image.
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class UndecodableImage(ValueError):
    """Empty, truncated or corrupt image data."""


class UnsupportedImageType(ValueError):
    """Neither PNG nor JPEG."""


class ImageTooLarge(ValueError):
    """The image declares more pixels than the caller allows."""


class UnreadableShape(ValueError):
    """Sides too far apart to be a digit or a row of digits."""


def sniff(data: bytes) -> str:
    """'PNG' or 'JPEG' by the file's first bytes; anything else is refused unopened."""
    if not data:
        raise UndecodableImage("empty image file")
    for magic, kind in MAGIC.items():
        if data.startswith(magic):
            return kind
    raise UnsupportedImageType("only PNG and JPEG images are accepted")


def declared_pixels(data: bytes) -> int:
    """The pixels a PNG or JPEG declares in its header (0 when it is not one: decoding says
    what is wrong with it)."""
    try:
        with Image.open(io.BytesIO(data), formats=[sniff(data)]) as image:
            width, height = image.size
    # (SyntaxError: what Pillow's parsers raise for a broken header.)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return 0
    return int(width * height)


def decode(data: bytes, max_pixels: int) -> np.ndarray:
    """Grayscale float32 pixels (0-255) of a PNG or JPEG, EXIF rotation applied, reduced to
    WORK_SIDE pixels on the longer side."""
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
    if max(width, height) > MAX_ASPECT * max(min(width, height), 1):
        # A 1 x 16,000,000 PNG is a few kilobytes, under the pixel limit, and decodes through
        # row buffers of its full width: refused before decoding.
        raise UnreadableShape(
            f"the image is {width}x{height} pixels: sides more than {MAX_ASPECT} times apart "
            "are not a digit or a row of digits"
        )
    if kind == "JPEG":
        # Decode big photos at a reduced scale straight from the DCT: far less work and memory.
        image.draft("L", (max(width // 8, 256), max(height // 8, 256)))
    try:
        orientation = image.getexif().get(EXIF_ORIENTATION)
        image.load()
        gray, top = _gray(image)
        gray = _reduced(gray)
        del image  # the full-size decode goes before anything else is allocated
        turn = TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
        return _float_pixels(gray.transpose(turn) if turn is not None else gray, top)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise UndecodableImage(f"undecodable {kind} image (truncated or corrupt)") from None


def _gray(image: Image.Image) -> tuple[Image.Image, float | None]:
    """One 8-bit plane of ink or brightness ("L"), or 32-bit values ("I", "F") with the value
    that stands for white (None: the image's brightest), made by Pillow: at full size, nothing
    wider than a byte per pixel is added, but for the rare 16-bit PNG."""
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA"):
        alpha = image.getchannel("A")
        # Looked at reduced: the extrema of a full-size image hold the interpreter ~35 ms.
        low = _reduced(alpha).getextrema()[0]
        if isinstance(low, int | float) and low < 255:
            # A drawing on a transparent canvas: the ink is where it is opaque, whatever its colour.
            return alpha, None
        del alpha  # before the brightness plane is made: one full-size plane at a time
        return image.convert("L"), None
    if mode.startswith("I;16"):
        return image.convert("I"), 65535.0
    if mode in ("I", "F", "L"):
        return image, None
    if mode == "CMYK":
        image = image.convert("RGB")
    return image.convert("L"), None


def _reduced(image: Image.Image) -> Image.Image:
    """The image box-reduced (each output pixel the mean of a block) to WORK_SIDE at most."""
    factor = -(-max(image.size) // WORK_SIDE)
    return image.reduce(factor) if factor > 1 else image


def _float_pixels(image: Image.Image, top: float | None) -> np.ndarray:
    if image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = top if top is not None else max(float(values.max()), 1.0)
        return (np.clip(values, 0, top) * (255.0 / top)).astype(np.float32)
    return np.asarray(image, dtype=np.float32)


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

    # MNIST's margin on a 28-pixel side, in proportion on a smaller one (an 8x8 canvas keeps a
    # 6x6 box, not a pixel).
    margin = min(MARGIN, round(MARGIN * min(height, width) / MNIST_SIDE))
    box_h, box_w = max(height - 2 * margin, 1), max(width - 2 * margin, 1)
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
