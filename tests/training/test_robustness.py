"""The robustness suite: upload-like renders of test digits, seeded, preprocessed as uploads."""

from __future__ import annotations

import numpy as np
import pytest

from training import robustness
from training.data.mnist import load_mnist
from training.evaluation import suite_inputs
from training.tasks import get_task

JPEG, PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_mnist().test.x[:24]


def test_the_suite_is_the_same_on_every_run(digits: np.ndarray) -> None:
    first, second = robustness.suite(digits), robustness.suite(digits)
    assert list(first) == list(robustness.CONDITIONS)
    for condition in first:
        np.testing.assert_array_equal(first[condition], second[condition])


def test_another_seed_renders_another_suite(digits: np.ndarray) -> None:
    a = robustness.render("paper_jpeg", digits, seed=1)
    b = robustness.render("paper_jpeg", digits, seed=2)
    assert not np.array_equal(a, b)


def test_a_prefix_of_the_digits_renders_as_in_the_whole_suite(digits: np.ndarray) -> None:
    whole = robustness.render("small_rotated_off_centre", digits, robustness.SUITE_SEED)
    prefix = robustness.render("small_rotated_off_centre", digits[:5], robustness.SUITE_SEED)
    np.testing.assert_array_equal(whole[:5], prefix)


@pytest.mark.parametrize("condition", list(robustness.CONDITIONS))
def test_each_condition_is_an_image_file_that_preprocesses_to_mnist_form(
    condition: str, digits: np.ndarray
) -> None:
    render = robustness.CONDITIONS[condition]
    for i, digit in enumerate(digits[:6]):
        data = render(digit, np.random.default_rng(i))
        assert data.startswith(JPEG if condition == "paper_jpeg" else PNG)
        x = robustness.as_uploaded(data)
        assert x.shape == (28, 28) and x.dtype == np.uint8
        # Light ink on black, fitted into a 20x20 box and centred by mass, as MNIST's own.
        # (LANCZOS resampling may soften the brightest pixel a little.)
        assert x.max() >= 200 and np.median(x) == 0
        rows, cols = np.nonzero(x)
        assert 16 <= max(np.ptp(rows), np.ptp(cols)) + 1 <= 20
        assert rows.min() >= 1 and rows.max() <= 26 and cols.min() >= 1 and cols.max() <= 26
        assert not np.array_equal(x, digit)  # the condition changed what the model sees


def test_paper_jpeg_is_dark_ink_on_light_paper_and_the_rest_on_white(digits: np.ndarray) -> None:
    import uploads

    for condition, render in robustness.CONDITIONS.items():
        pixels = uploads.decode(render(digits[0], np.random.default_rng(0)), 10**8)
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        if condition == "paper_jpeg":
            assert 130 < np.median(border) < 250 and pixels.std() > 3  # grey paper, uneven, noisy
        else:
            assert np.median(border) == 255


def test_low_resolution_is_drawn_at_7_to_14_pixels_then_scaled_up(digits: np.ndarray) -> None:
    import uploads

    for seed in range(10):
        rng = np.random.default_rng(seed)
        size = int(np.random.default_rng(seed).integers(7, 15))
        pixels = uploads.decode(robustness.low_resolution(digits[1], rng), 10**8)
        ink = np.nonzero(pixels < 250)
        extent = max(np.ptp(ink[0]), np.ptp(ink[1])) + 1
        # The glyph is `size` source pixels wide, each blown up by the same factor.
        assert extent >= 8 * (size - 1) and pixels.shape[0] >= 8 * size


def test_suite_inputs_take_the_models_shape(digits: np.ndarray) -> None:
    test = load_mnist().test.take(10)
    flat, labels = suite_inputs(get_task("mnist"), test)
    square, _ = suite_inputs(get_task("mnist-cnn"), test)
    assert set(flat) == set(robustness.CONDITIONS)
    assert flat["blurred"].shape == (10, 784) and square["blurred"].shape == (10, 28, 28)
    np.testing.assert_array_equal(flat["blurred"].reshape(10, 28, 28), square["blurred"])
    np.testing.assert_array_equal(labels, test.y)


def test_every_condition_has_a_description_for_the_model_card() -> None:
    assert set(robustness.DESCRIPTIONS) == set(robustness.CONDITIONS)


def test_block_scan_sends_an_8x8_file_of_at_most_17_gray_levels(digits: np.ndarray) -> None:
    import uploads

    for i, digit in enumerate(digits[:8]):
        pixels = uploads.decode(robustness.block_scan(digit, np.random.default_rng(i)), 10**8)
        assert pixels.shape == (8, 8)
        assert len(np.unique(pixels)) <= 17 and pixels.min() < 128  # ink counted per block


def test_stretched_widens_a_narrow_digit_towards_a_square() -> None:
    test = load_mnist().test
    ones = test.x[test.y == 1][:10]

    def aspect(x: np.ndarray) -> float:
        rows, cols = np.nonzero(x > 64)
        return (np.ptp(cols) + 1) / (np.ptp(rows) + 1)

    before = np.mean([aspect(robustness.as_uploaded(robustness.ink_png(d))) for d in ones])
    after = np.mean(
        [
            aspect(robustness.as_uploaded(robustness.stretched(d, np.random.default_rng(i))))
            for i, d in enumerate(ones)
        ]
    )
    assert after > before + 0.3


def test_the_conditions_the_suite_keeps_unseen_are_never_rendered_for_training() -> None:
    from training.augment import TRAINING_RENDERERS

    unseen = set(robustness.CONDITIONS) - set(robustness.TRAINED_KINDS)
    assert unseen == {"block_scan", "thick_pen", "stretched"}
    trained = set(TRAINING_RENDERERS.values())
    assert not trained & {robustness.CONDITIONS[name] for name in unseen}
    assert {robustness.CONDITIONS[name] for name in robustness.TRAINED_KINDS} <= trained
