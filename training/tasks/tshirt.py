"""``tshirt``: will a T-shirt be a top seller? The course's demand example, 4 -> 3 sigmoid -> 1.

Features arrive in natural units (USD, thousand USD, a 1-10 score) and are standardised
inside the graph with the training split's mean and standard deviation.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from training import config
from training.data import tshirt
from training.data.splits import Dataset
from training.nets import MLP, InputNorm
from training.tasks.spec import InputSpec, Task, features_of


def load(_: Path | None) -> Dataset:
    return tshirt.load_tshirt()


def build(data: Dataset) -> nn.Module:
    return MLP(InputNorm.standardize(data.train.x), [4, 3, 1], ["sigmoid", "linear"])


TASK = Task(
    name="tshirt",
    description="top-seller T-shirt from price, shipping, marketing and material quality",
    kind="binary",
    labels=("not top seller", "top seller"),
    input=InputSpec("features", "FP32", (-1, 4), "tabular", features=features_of(tshirt.FEATURES)),
    config=config.TSHIRT,
    load_data=load,
    build_model=build,
    threshold=0.5,
    max_threads=1,  # three hidden units: threads only add synchronisation
)
