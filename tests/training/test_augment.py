"""Augmentation: seeded jitter, upload-like renders swapped in, fresh multi-label canvases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training import augment
from training.augment import Canvases, Digits, Jitter, random_affine, upload_renders
from training.data.mnist import load_mnist
from training.data.splits import Split


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return np.ascontiguousarray(load_mnist().train.x[:64])


def test_affine_jitter_is_seeded_and_keeps_uint8_images(digits: np.ndarray) -> None:
    x = torch.from_numpy(digits)
    a, b = random_affine(x, generator(1)), random_affine(x, generator(1))
    c = random_affine(x, generator(2))
    assert a.dtype == torch.uint8 and a.shape == x.shape
    assert torch.equal(a, b) and not torch.equal(a, c)
    # Jitter moves the ink around; it does not wipe it out.
    assert (a.float().sum((1, 2)) / x.float().sum((1, 2))).min() > 0.6


def test_elastic_distortion_moves_pixels_more_than_affine_alone(digits: np.ndarray) -> None:
    x = torch.from_numpy(digits)
    plain = random_affine(x, generator(3))
    elastic = random_affine(x, generator(3), Jitter(elastic=3.0))
    assert not torch.equal(plain, elastic)


def test_upload_renders_are_seeded_preprocessed_digits(digits: np.ndarray) -> None:
    renders = upload_renders(digits[:6], per_image=2, seed=5)
    assert renders.shape == (6, 2, 28, 28) and renders.dtype == np.uint8
    again = upload_renders(np.array(digits[:6]), per_image=2, seed=5)  # a new array, same digits
    np.testing.assert_array_equal(renders, again)
    augment._renders_cache.clear()
    np.testing.assert_array_equal(renders, upload_renders(digits[:6], per_image=2, seed=5))
    assert not np.array_equal(renders, upload_renders(digits[:6], per_image=2, seed=6))


def test_renders_are_swapped_in_for_about_their_share_of_rows() -> None:
    n = 2000
    blank = torch.zeros(n, 784, dtype=torch.uint8)  # flat rows, as the mnist MLP takes them
    white = torch.full((n, 1, 28, 28), 255, dtype=torch.uint8)
    aug = Digits((28, 28), renders=white, share=0.3)
    out, labels = aug(torch.arange(n), blank, torch.zeros(n), generator())
    assert out.shape == (n, 784) and labels.shape == (n,)
    swapped = (out.reshape(n, 28, 28)[:, 14, 14] > 0).float().mean().item()
    assert swapped == pytest.approx(0.3, abs=0.04)


def test_rows_without_renders_are_never_swapped() -> None:
    n = 200
    aug = Digits((28, 28), renders=torch.full((50, 1, 28, 28), 255, dtype=torch.uint8), share=1.0)
    out, _ = aug(
        torch.arange(n), torch.zeros(n, 28, 28, dtype=torch.uint8), torch.zeros(n), generator()
    )
    centre = out[:, 14, 14] > 0
    assert centre[:50].all() and not centre[50:].any()


def test_augmentation_depends_only_on_the_generator(digits: np.ndarray) -> None:
    aug = Digits(
        (28, 28), Jitter(elastic=2.0), torch.from_numpy(upload_renders(digits[:8], 1, 0)), 0.5
    )
    rows, x, y = torch.arange(8), torch.from_numpy(digits[:8]), torch.arange(8)
    a, _ = aug(rows, x, y, generator(4))
    b, _ = aug(rows, x, y, generator(4))
    assert torch.equal(a, b)


def test_fresh_canvases_every_epoch_with_labels_naming_their_digits() -> None:
    source = load_mnist().train
    canvases = Canvases(Split(np.ascontiguousarray(source.x[:300]), source.y[:300]))
    rows = torch.arange(100)
    x, y = torch.zeros(100, 28, 84, dtype=torch.uint8), torch.zeros(100, 10)
    first, first_labels = canvases(rows, x, y, generator(0))
    second, _ = canvases(rows, x, y, generator(1))
    again, again_labels = canvases(rows, x, y, generator(0))
    assert first.shape == (100, 28, 84) and first_labels.dtype == torch.float32
    assert not torch.equal(first, second)
    assert torch.equal(first, again) and torch.equal(first_labels, again_labels)
    counts = first_labels.sum(1)
    assert counts.min() >= 1 and counts.max() <= 3
    # An empty slot is blank, a filled one holds ink.
    slots = first.reshape(100, 28, 3, 28).float().sum((1, 3))
    assert ((slots > 0).sum(1) >= counts).all()


def test_each_torchrun_rank_composes_other_canvases() -> None:
    source = load_mnist().train
    canvases = Canvases(Split(np.ascontiguousarray(source.x[:300]), source.y[:300]))
    x, y = torch.zeros(10, 28, 84, dtype=torch.uint8), torch.zeros(10, 10)
    rank0, _ = canvases(torch.arange(0, 20, 2), x, y, generator(0))
    rank1, _ = canvases(torch.arange(1, 20, 2), x, y, generator(0))
    assert not torch.equal(rank0, rank1)
