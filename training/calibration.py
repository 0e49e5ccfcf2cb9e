"""Temperature scaling: probabilities that mean what they say, at no cost at serving time.

One scalar ``T`` is fitted on the validation split by minimising the kind's own loss (negative
log-likelihood) of ``logits / T``; then the network's last linear layer is divided by ``T``, so
the exported graph already outputs calibrated logits and the service's softmax/sigmoid stays
as it is. ``T > 0`` leaves every argmax (and every sigmoid decision at 0.5) unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from training.tasks.kinds import Kind

MIN_T, MAX_T = 0.05, 20.0


def fit_temperature(kind: Kind, logits: np.ndarray, y: np.ndarray) -> float:
    """The ``T`` minimising the validation loss of ``logits / T`` (LBFGS on log T)."""
    if not len(logits):
        return 1.0
    z = torch.from_numpy(logits.astype(np.float64))
    targets = kind.targets(y)
    targets = targets.double() if targets.is_floating_point() else targets
    loss_fn = kind.loss()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn(z / log_t.exp(), targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    t = float(log_t.exp().item())
    return float(np.clip(t, MIN_T, MAX_T)) if np.isfinite(t) else 1.0


def fold_temperature(layer: nn.Linear, temperature: float) -> None:
    """Divide the logits' layer by ``temperature`` in place: ``(xW + b) / T``."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    with torch.no_grad():
        layer.weight.div_(temperature)
        if layer.bias is not None:
            layer.bias.div_(temperature)


def logits_layer(model: nn.Module) -> nn.Linear:
    """The network's last linear layer, the one whose output is the logits."""
    layer = getattr(model, "logits_layer", None)
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"{type(model).__name__} does not name its logits layer")
    return layer
