"""Random affine jitter of digit images with plain torch ops (torchvision is not a dependency).

Each image gets its own small rotation, zoom and shift, drawn from a seeded generator, applied
with ``F.affine_grid`` + ``F.grid_sample``. The result is rounded back to uint8 so the network
trains on exactly the kind of input the exported graph receives.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

MAX_ROTATION_DEG = 12.0
MAX_ZOOM = 0.10
MAX_SHIFT = 0.2  # in affine_grid's [-1, 1] coordinates: 0.2 is 2.8 pixels of 28


def random_affine(images: Tensor, generator: torch.Generator) -> Tensor:
    """uint8 (n, H, W) -> uint8 (n, H, W), every image moved by its own random affine map."""
    n, height, width = images.shape

    def uniform(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=generator) * 2 - 1

    angle = uniform(n) * math.radians(MAX_ROTATION_DEG)
    zoom = 1 + uniform(n) * MAX_ZOOM
    shift = uniform(n, 2) * MAX_SHIFT
    # theta maps output coordinates to input coordinates, hence the division by zoom.
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    ).to(images.device)
    grid = F.affine_grid(theta, [n, 1, height, width], align_corners=False)
    moved = F.grid_sample(
        images.to(torch.float32).unsqueeze(1), grid, align_corners=False, padding_mode="zeros"
    )
    return moved.squeeze(1).round_().clamp_(0, 255).to(torch.uint8)
