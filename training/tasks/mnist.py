"""``mnist``: the course's digit classifier, Dense 25 relu -> 15 relu -> 10 linear logits.

784 raw pixels in (UINT8), scaled to 0-1 inside the graph; cross-entropy from logits; Adam.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from training import config
from training.data.mnist import load_mnist
from training.data.splits import Dataset, Split
from training.nets import MLP, InputNorm
from training.tasks.spec import InputSpec, Task

DIGITS = tuple(str(d) for d in range(10))


def load_flat_digits(data_dir: Path | None) -> Dataset:
    digits = load_mnist(data_dir)
    return Dataset(
        train=Split(digits.train.x.reshape(-1, 784), digits.train.y),
        validation=Split(digits.validation.x.reshape(-1, 784), digits.validation.y),
        info=digits.info,
    )


def build_mlp(_: Dataset) -> nn.Module:
    return MLP(InputNorm.pixels(), [784, 25, 15, 10], ["relu", "relu", "linear"])


TASK = Task(
    name="mnist",
    description="handwritten digit 0-9 from 28x28 pixels: the course's 25-15-10 network",
    kind="multiclass",
    labels=DIGITS,
    input=InputSpec("pixels", "UINT8", (-1, 784), "image", image=(28, 28)),
    config=config.MNIST,
    load_data=load_flat_digits,
    build_model=build_mlp,
    accepts_data_dir=True,
    max_threads=1,  # small dense layers: a second thread gains nothing here
)
