"""Forward propagation in numpy, as the course writes it: the reference for the exported graphs.

The course's vectorized dense layer is ``A_out = g(A_in @ W + b)`` with ``W`` of shape
(inputs, units) and ``b`` of shape (1, units); a network is those layers in sequence. Its
worked example:

>>> A = np.array([[200, 17]])
>>> W = np.array([[1, -3, 5], [-2, 4, -6]])
>>> b = np.array([[-1, 1, 2]])
>>> dense(A, W, b, linear)
array([[ 165, -531,  900]])
>>> np.round(dense(A, W, b, sigmoid)).astype(int)
array([[1, 0, 1]])

``mlp_forward`` runs a trained ``training.nets.MLP`` this way from its own weights, including
the input scaling that lives in its exported graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from torch import nn

from training.nets import MLP

Activation = Callable[[np.ndarray], np.ndarray]
Layer = tuple[np.ndarray, np.ndarray, Activation]


def linear(z: np.ndarray) -> np.ndarray:
    return z


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(0, z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    # Split by sign so exp never overflows: the course's 1/(1+exp(-z)) warns for z << 0.
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1.0 + e)
    return out


ACTIVATIONS: dict[str, Activation] = {"linear": linear, "relu": relu, "sigmoid": sigmoid}


def dense(a_in: np.ndarray, w: np.ndarray, b: np.ndarray, g: Activation) -> np.ndarray:
    """One vectorized dense layer: ``g(A_in @ W + b)``."""
    z = np.matmul(a_in, w) + b
    return g(z)


def sequential(x: np.ndarray, layers: Sequence[Layer]) -> np.ndarray:
    """Dense layers in order, each ``(W, b, g)``."""
    a = x
    for w, b, g in layers:
        a = dense(a, w, b, g)
    return a


def mlp_layers(model: MLP) -> list[Layer]:
    """The model's dense layers in the course's layout (float64, ``W`` transposed from torch)."""
    layers: list[Layer] = []
    for layer, name in zip(model.dense, model.activations, strict=True):
        assert isinstance(layer, nn.Linear)
        w = layer.weight.detach().cpu().double().numpy().T
        b = layer.bias.detach().cpu().double().numpy()[None, :]
        layers.append((w, b, ACTIVATIONS[name]))
    return layers


def mlp_forward(model: MLP, x: np.ndarray) -> np.ndarray:
    """Logits of raw inputs ``x``: the model's in-graph scaling, then ``sequential``."""
    shift = model.norm.shift.detach().cpu().double().numpy()
    scale = model.norm.scale.detach().cpu().double().numpy()
    return sequential((x.astype(np.float64) - shift) / scale, mlp_layers(model))
