"""Coffee roasting: (temperature, duration) -> good roast, as in the course's lab.

Like the lab's ``load_coffee_data``: temperature uniform in 150-285 degrees Celsius, duration
uniform in 11.5-15.5 minutes, and a roast is good exactly when

    175 < temperature < 260  and  12 < duration < 15  and  duration <= -3/85 * temperature + 21

(the last one is the lab's diagonal: hotter roasts must be shorter). There is no label noise:
the rule is the truth, and a 2 -> 3 sigmoid -> 1 network approximates its triangle-like region
with three soft half-planes. About a fifth of roasts are good.

2,000 rows with ``GENERATOR_SEED`` (the lab draws 200), split stratified 1,200 train / 400
validation / 400 test with ``SPLIT_SEED``; both fixed and independent of the training seed.
"""

from __future__ import annotations

import numpy as np

from training.data.splits import Dataset, Split, stratified_split

FEATURES = (
    ("temperature", "degrees Celsius", "roasting temperature"),
    ("duration", "minutes", "roasting duration"),
)
ROWS = 2000
GENERATOR_SEED = 2
SPLIT_SEED = 0
VALIDATION_FRACTION = 0.2
TEST_FRACTION = 0.2


def generate(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, 2) float32 [temperature C, duration min] and (rows,) int64 labels (1: good)."""
    rng = np.random.default_rng(seed)
    temperature = rng.uniform(150, 285, rows)
    duration = rng.uniform(11.5, 15.5, rows)
    features = np.stack([temperature, duration], axis=1).astype(np.float32)
    return features, is_good_roast(temperature, duration).astype(np.int64)


def is_good_roast(temperature: np.ndarray, duration: np.ndarray) -> np.ndarray:
    """The lab's rule (module docstring)."""
    return (
        (temperature > 175)
        & (temperature < 260)
        & (duration > 12)
        & (duration < 15)
        & (duration <= -3 / 85 * temperature + 21)
    )


def load_coffee() -> Dataset:
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
            "name": "coffee-synthetic",
            "source": "training.data.coffee: seeded generator after the course's coffee lab",
            "generator_seed": GENERATOR_SEED,
            "split": "stratified 60/20/20: train / validation / test",
            "split_seed": SPLIT_SEED,
        },
    )
