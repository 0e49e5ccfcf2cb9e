"""``mnist-cnn``: a small convolutional digit classifier (about 68k parameters).

Two 3x3 conv blocks at 28x28, max-pool, two at 14x14, max-pool, one at 7x7, global average
pool, a linear layer to 10 logits. Batch norm, AdamW on a one-cycle schedule, label smoothing,
random affine jitter and upload-like renders (``training.augment``) make it read photos and
scans of digits while training on only 4,000.
"""

from __future__ import annotations

from torch import nn

from training.config import TrainConfig
from training.data.mnist import load_mnist
from training.data.splits import Dataset
from training.nets import ImageNet, conv_block
from training.tasks.kinds import MULTICLASS
from training.tasks.mnist import DIGIT_LIMITS, DIGITS
from training.tasks.spec import Goals, InputSpec, Task

CONFIG = TrainConfig(
    epochs=30,
    batch_size=64,
    lr=3e-3,
    optimizer="adamw",
    weight_decay=5e-4,
    schedule="onecycle",
    patience=30,  # one-cycle: the best epoch is near the end by design
    augment="uploads",
    renders_per_image=3,
    render_share=0.5,
    label_smoothing=0.1,
)


def build_cnn(_: Dataset) -> nn.Module:
    return cnn(10)


def cnn(outputs: int) -> nn.Module:
    """The digit CNN's trunk with ``outputs`` logits: also the ``--net cnn`` of your images."""
    features = nn.Sequential(
        *conv_block(1, 16),
        *conv_block(16, 32),
        nn.MaxPool2d(2),
        *conv_block(32, 48),
        *conv_block(48, 48),
        nn.MaxPool2d(2),
        *conv_block(48, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return ImageNet(features, nn.Linear(64, outputs))


TASK = Task(
    name="mnist-cnn",
    description="handwritten digit 0-9 from 28x28 pixels: a small CNN that reads uploads",
    kind=MULTICLASS,
    labels=DIGITS,
    input=InputSpec("pixels", "UINT8", (-1, 28, 28), "image", image=(28, 28)),
    config=CONFIG,
    load_data=load_mnist,
    build_model=build_cnn,
    accepts_data_dir=True,
    robustness=True,
    goals=Goals(metrics={"accuracy": 0.99}, per_condition=0.95, ece=0.02),
    intended_use="Reading one handwritten digit per image: drawn on a screen, scanned or "
    "photographed on paper, as the service's predict/image route receives it.",
    limits=DIGIT_LIMITS,
)
