"""The scan-like renders training makes for itself: seeded image files that read, through the
service's upload preprocessing, as digits in MNIST's form."""

from __future__ import annotations

import numpy as np
import pytest

import uploads
from training import robustness, scans
from training.data.mnist import load_mnist

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_mnist().train.x[:12]


@pytest.mark.parametrize("name", list(scans.RENDERERS))
def test_each_render_is_a_seeded_png_that_reads_as_an_mnist_digit(
    name: str, digits: np.ndarray
) -> None:
    render = scans.RENDERERS[name]
    for i, digit in enumerate(digits):
        data = render(digit, np.random.default_rng(i))
        assert data.startswith(PNG) and data == render(digit, np.random.default_rng(i))
        pixels = uploads.decode(data, 10**8)
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        assert np.median(border) > 200  # dark ink on white paper
        x = robustness.as_uploaded(data)
        assert x.max() >= 200 and np.median(x) == 0
        rows, cols = np.nonzero(x)
        assert 16 <= max(np.ptp(rows), np.ptp(cols)) + 1 <= 20


def test_coarse_grid_sends_a_grid_of_6_to_12_cells_or_one_scaled_up(digits: np.ndarray) -> None:
    sides = set()
    for i in range(40):
        pixels = uploads.decode(scans.coarse_grid(digits[i % 12], np.random.default_rng(i)), 10**8)
        assert pixels.shape[0] == pixels.shape[1]
        sides.add(pixels.shape[0])
    assert any(6 <= side <= 12 for side in sides) and any(side > 12 for side in sides)
