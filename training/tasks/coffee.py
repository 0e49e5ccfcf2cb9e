"""``coffee``: good or bad roast from temperature and duration, the course's lab, 2 -> 3 -> 1.

Features arrive in natural units (degrees Celsius, minutes) and are standardised inside the
graph with the training split's mean and standard deviation, as the lab's Normalization layer.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from training import config
from training.data import coffee
from training.data.splits import Dataset
from training.nets import MLP, InputNorm
from training.tasks.spec import InputSpec, Task, features_of


def load(_: Path | None) -> Dataset:
    return coffee.load_coffee()


def build(data: Dataset) -> nn.Module:
    return MLP(InputNorm.standardize(data.train.x), [2, 3, 1], ["sigmoid", "linear"])


TASK = Task(
    name="coffee",
    description="good coffee roast from roasting temperature and duration",
    kind="binary",
    labels=("bad roast", "good roast"),
    input=InputSpec("features", "FP32", (-1, 2), "tabular", features=features_of(coffee.FEATURES)),
    config=config.COFFEE,
    load_data=load,
    build_model=build,
    threshold=0.5,
    max_threads=1,  # three hidden units: threads only add synchronisation
)
