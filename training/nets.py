"""Building blocks of the models: in-graph input scaling, the course's dense stack, conv blocks.

Scaling lives inside the network (and so inside the exported ONNX graph) as buffers, so a
client sends raw pixels or features in natural units and training and serving can never
disagree about the preprocessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

Activation = Literal["linear", "relu", "sigmoid"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "linear": nn.Identity,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
}


class InputNorm(nn.Module):
    """``(float32(x) - shift) / scale``: pixels 0-255 -> 0-1, or features -> z-scores.

    ``shift`` and ``scale`` broadcast against the input: scalars for images, one value per
    column for tabular rows (the training split's mean and standard deviation).
    """

    shift: Tensor
    scale: Tensor

    def __init__(self, shift: np.ndarray | float, scale: np.ndarray | float) -> None:
        super().__init__()
        scale_t = torch.as_tensor(np.asarray(scale, dtype=np.float32))
        if bool((scale_t <= 0).any()):
            raise ValueError("scale must be positive (a constant feature has no spread)")
        self.register_buffer("shift", torch.as_tensor(np.asarray(shift, dtype=np.float32)))
        self.register_buffer("scale", scale_t)

    @classmethod
    def pixels(cls) -> InputNorm:
        return cls(0.0, 255.0)

    @classmethod
    def standardize(cls, features: np.ndarray) -> InputNorm:
        """Baked train-split statistics; the spread is floored so a near-constant column is safe."""
        mean = features.mean(axis=0, dtype=np.float64)
        std = np.maximum(features.std(axis=0, dtype=np.float64), 1e-6)
        return cls(mean, std)

    def forward(self, x: Tensor) -> Tensor:
        return (x.to(torch.float32) - self.shift) / self.scale


class MLP(nn.Module):
    """The course's ``Sequential([Dense(...), ...])``: ``norm`` then dense layers.

    ``sizes`` are the layer widths including the input, ``activations`` one per dense layer;
    ``tests/training/reference.py`` recomputes this forward pass in numpy from the same weights.
    """

    def __init__(
        self, norm: InputNorm, sizes: Sequence[int], activations: Sequence[Activation]
    ) -> None:
        super().__init__()
        if len(activations) != len(sizes) - 1:
            raise ValueError("one activation per dense layer")
        self.norm = norm
        self.activations = tuple(activations)
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:], strict=False))
        self.act = nn.ModuleList(_ACTIVATIONS[name]() for name in activations)

    @property
    def logits_layer(self) -> nn.Linear:
        """The last dense layer, whose output is the logits (its activation is linear)."""
        layer = self.dense[-1]
        if self.activations[-1] != "linear" or not isinstance(layer, nn.Linear):
            raise TypeError("the network does not end in a linear layer")
        return layer

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(x)
        for dense, act in zip(self.dense, self.act, strict=True):
            h = act(dense(h))
        return h


def conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    """3x3 'same' convolution, batch norm (which makes the bias redundant), ReLU."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class ImageNet(nn.Module):
    """Grey image (n, H, W) uint8 -> ``norm`` -> channel axis -> ``features`` -> ``head``."""

    def __init__(self, features: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.norm = InputNorm.pixels()
        self.features = features
        self.head = head

    @property
    def logits_layer(self) -> nn.Linear:
        if not isinstance(self.head, nn.Linear):
            raise TypeError("the head is not a single linear layer")
        return self.head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(self.norm(x).unsqueeze(1)))
