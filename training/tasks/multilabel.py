"""``multilabel``: which digits appear on a 28 x 84 canvas of up to three digits.

A fully convolutional trunk, then a global *max* pool: a digit's logit is its strongest
detection anywhere on the canvas, so the network asks "is there a 7 somewhere?" rather than
"what is in slot 2?". Five conv blocks see 31 pixels around each position, a whole digit.
Ten logits, one sigmoid each at serving time, BCE-with-logits loss. Every epoch composes
fresh canvases from jittered train digits (``training.augment.Canvases``).
"""

from __future__ import annotations

from torch import nn

from training.config import TrainConfig
from training.data.multilabel import CANVAS_SHAPE, load_multilabel
from training.data.splits import Dataset
from training.nets import ImageNet, conv_block
from training.tasks.kinds import MULTILABEL
from training.tasks.mnist import DIGITS
from training.tasks.spec import Goals, InputSpec, Task

CONFIG = TrainConfig(
    epochs=15,
    batch_size=64,
    lr=3e-3,
    optimizer="adamw",
    weight_decay=5e-4,
    schedule="onecycle",
    patience=15,
    augment="canvases",
    elastic=2.0,
)


def build_detector(_: Dataset) -> nn.Module:
    features = nn.Sequential(
        *conv_block(1, 16),
        nn.MaxPool2d(2),
        *conv_block(16, 32),
        nn.MaxPool2d(2),
        *conv_block(32, 64),
        *conv_block(64, 64),
        *conv_block(64, 64),
        nn.AdaptiveMaxPool2d(1),
        nn.Flatten(),
    )
    return ImageNet(features, nn.Linear(64, 10))


TASK = Task(
    name="multilabel",
    description="which of the digits 0-9 appear on a 28x84 canvas of one to three digits",
    kind=MULTILABEL,
    labels=DIGITS,
    input=InputSpec("pixels", "UINT8", (-1, *CANVAS_SHAPE), "image", image=CANVAS_SHAPE),
    config=CONFIG,
    load_data=load_multilabel,
    build_model=build_detector,
    threshold=0.5,
    accepts_data_dir=True,
    goals=Goals(metrics={"micro_f1": 0.985, "exact_match": 0.95}),
    intended_use="Teaching multi-label outputs: which digits appear on a strip of up to three "
    "MNIST digits side by side.",
    limits=(
        "Trained on canvases composed of clean MNIST digits, one per 28-pixel slot; digits that "
        "overlap, touch or come from photos are outside what it has seen.",
        "It says which digits appear, not how often or in what order.",
    ),
)
