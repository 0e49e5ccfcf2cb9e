"""``uploads``: the upload preprocessing both halves share, and the proof that it is the service's.

The service's ``predict/image`` route turns an image file into model input with
``service.images``, which is ``uploads`` with the service's errors; training measures its
robustness suite with ``uploads`` itself. These tests pin the two together, byte for byte, on
every condition of the suite (and the errors), so a figure in a manifest is what an upload of
that image really gets, even if someone gives the service a copy of its own again.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import uploads
from service.api import images as service_images
from service.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from training import robustness
from training.data.mnist import load_mnist

LIMIT = 4096 * 4096


@pytest.fixture(scope="module")
def rendered_files() -> list[bytes]:
    digits = load_mnist().test.x[:40]
    files = []
    for index, render in enumerate(robustness.CONDITIONS.values()):
        for i, digit in enumerate(digits):
            files.append(render(digit, np.random.default_rng([7, index, i])))
    return files


def test_uploads_decodes_and_preprocesses_exactly_as_the_service_does(
    rendered_files: list[bytes],
) -> None:
    for data in rendered_files:
        ours = uploads.decode(data, LIMIT)
        theirs = service_images.decode(data, LIMIT)
        np.testing.assert_array_equal(ours, theirs)
        for height, width in ((28, 28), (28, 84)):
            np.testing.assert_array_equal(
                uploads.to_model_input(ours, height, width),
                service_images.to_model_input(theirs, height, width),
            )


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "I;16", "CMYK", "1"])
def test_every_image_mode_decodes_alike(mode: str) -> None:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (30, 20, 3), dtype=np.uint8), "RGB")
    image = image.convert(mode)
    out = io.BytesIO()
    image.save(out, format="JPEG" if mode == "CMYK" else "PNG")
    np.testing.assert_array_equal(
        uploads.decode(out.getvalue(), LIMIT), service_images.decode(out.getvalue(), LIMIT)
    )


def _png_of(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 255).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "ours", "theirs"),
    [
        (b"", uploads.UndecodableImage, InvalidInput),
        (b"GIF89a...", uploads.UnsupportedImageType, UnsupportedMediaType),
        (b"\x89PNG\r\n\x1a\nbroken", uploads.UndecodableImage, InvalidInput),
        (_png_of(1, 30), uploads.UnreadableShape, InvalidInput),
    ],
)
def test_refusals_match_the_services(data: bytes, ours: type, theirs: type) -> None:
    with pytest.raises(ours) as shared:
        uploads.decode(data, LIMIT)
    with pytest.raises(theirs) as served:
        service_images.decode(data, LIMIT)
    assert served.value.message == str(shared.value)


def test_the_pixel_limit_is_checked_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("L", (300, 300), 255).save(out, format="PNG")
    with pytest.raises(uploads.ImageTooLarge, match="300x300"):
        uploads.decode(out.getvalue(), 300 * 299)
    with pytest.raises(PayloadTooLarge):
        service_images.decode(out.getvalue(), 300 * 299)


@pytest.mark.parametrize(
    ("height", "width", "box"), [(28, 28, (20, 20)), (28, 84, (20, 76)), (8, 8, (6, 6))]
)
def test_the_ink_fills_the_models_box_whatever_its_canvas(
    height: int, width: int, box: tuple[int, int]
) -> None:
    """MNIST's 4-pixel margin on 28 pixels, in proportion on a smaller canvas: an 8x8 model
    was given its digit shrunk to one pixel."""
    square = np.zeros((100, 100), np.float32)
    square[10:90, 10:90] = 255
    fitted = uploads.to_model_input(square, height, width)
    rows, cols = np.nonzero(fitted)
    assert rows.max() - rows.min() + 1 == box[0]
    assert cols.max() - cols.min() + 1 <= box[1]
