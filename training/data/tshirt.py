"""T-shirt top sellers: the course's demand-prediction example as a seeded generator.

Each row is a T-shirt with four features in natural units:

- ``price``: selling price, USD, uniform 8-40
- ``shipping_cost``: USD, uniform 0-12
- ``marketing``: marketing spend, thousand USD, uniform 0-60
- ``material_quality``: score 1-10 (integers, uniform)

The hidden rule follows the lecture's picture of a network that "invents" three features:

    affordability     = sigmoid((35 - (price + shipping_cost)) / 4)
    awareness         = sigmoid((marketing - 20) / 6)
    perceived_quality = sigmoid((material_quality - 5.5) / 1.2 + (price - 22) / 12)
    p(top seller)     = sigmoid(25 * (0.45 * affordability + 0.25 * awareness
                                      + 0.30 * perceived_quality - 0.65))

(a higher price hurts affordability but signals quality). The label is drawn from
Bernoulli(p(top seller)) and then 5% of labels are flipped at random (label noise). About 45%
of shirts are top sellers; the rule itself gets about 85% of the noisy labels right, which is
the ceiling for any model. A 4 -> 3 sigmoid -> 1 network can express the rule exactly.

3,000 rows with ``GENERATOR_SEED``, split stratified 1,800 train / 600 validation / 600 test
with ``SPLIT_SEED``; both fixed and independent of the training seed.
"""

from __future__ import annotations

import numpy as np

from training.data.splits import Dataset, Split, stratified_split

FEATURES = (
    ("price", "USD", "selling price of the shirt"),
    ("shipping_cost", "USD", "shipping cost charged to the buyer"),
    ("marketing", "thousand USD", "marketing spend on the shirt"),
    ("material_quality", "score 1-10", "quality of the material, 1 (poor) to 10 (excellent)"),
)
ROWS = 3000
LABEL_NOISE = 0.05
GENERATOR_SEED = 7
SPLIT_SEED = 0
VALIDATION_FRACTION = 0.2
TEST_FRACTION = 0.2


def generate(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, 4) float32 features in natural units and (rows,) int64 labels (1: top seller)."""
    rng = np.random.default_rng(seed)
    price = rng.uniform(8, 40, rows)
    shipping = rng.uniform(0, 12, rows)
    marketing = rng.uniform(0, 60, rows)
    quality = rng.integers(1, 11, rows).astype(np.float64)
    p = top_seller_probability(price, shipping, marketing, quality)
    labels = rng.random(rows) < p
    flipped = rng.random(rows) < LABEL_NOISE
    labels = np.where(flipped, ~labels, labels)
    features = np.stack([price, shipping, marketing, quality], axis=1).astype(np.float32)
    return features, labels.astype(np.int64)


def top_seller_probability(
    price: np.ndarray, shipping: np.ndarray, marketing: np.ndarray, quality: np.ndarray
) -> np.ndarray:
    """The hidden rule of the module docstring, before label noise."""
    affordability = _sigmoid((35 - (price + shipping)) / 4)
    awareness = _sigmoid((marketing - 20) / 6)
    perceived_quality = _sigmoid((quality - 5.5) / 1.2 + (price - 22) / 12)
    score = 0.45 * affordability + 0.25 * awareness + 0.30 * perceived_quality
    return _sigmoid(25 * (score - 0.65))


def load_tshirt() -> Dataset:
    features, labels = generate(ROWS, GENERATOR_SEED)
    train, validation, test = stratified_split(
        labels, (VALIDATION_FRACTION, TEST_FRACTION), SPLIT_SEED
    )
    rows = Split(features, labels)
    return Dataset(
        train=rows.rows(train),
        validation=rows.rows(validation),
        test=rows.rows(test),
        info={
            "name": "tshirt-synthetic",
            "source": "training.data.tshirt: seeded generator of the course's demand example",
            "generator_seed": GENERATOR_SEED,
            "label_noise": LABEL_NOISE,
            "split": "stratified 60/20/20: train / validation / test",
            "split_seed": SPLIT_SEED,
        },
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))
