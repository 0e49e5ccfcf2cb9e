"""How each epoch's training images vary: random affine jitter, and upload-like renders.

- ``random_affine``: each image gets its own small rotation, zoom and shift, drawn from a
  seeded generator, applied with ``F.affine_grid`` + ``F.grid_sample`` and rounded back to
  uint8, so the network trains on exactly the kind of input the exported graph receives.
- ``upload_renders``: each training digit rendered a few times, under the kinds of the
  robustness suite's conditions it trains on (``robustness.TRAINED_KINDS``) and the scan-like
  family of ``training.scans``, each through the service's own upload preprocessing; made once
  per run, then every epoch swaps a share of the rows for one of their renders. The renders
  come from the train split and their own seeds: the suite's renders are never seen, and three
  of its conditions (block_scan, thick_pen, stretched) are never rendered at all.
- ``Canvases``: the multi-label model gets freshly composed canvases every epoch, from its
  train split's digits, each jittered, instead of the same canvases again.

``augmentation`` builds what a run's ``TrainConfig.augment`` asks for.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from training import robustness, scans
from training.config import TrainConfig
from training.data.mnist import load_mnist
from training.data.multilabel import compose
from training.data.splits import Dataset, Split

ELASTIC_SIGMA = 4.0  # pixels: the smoothness of an elastic distortion, as Simard et al.
# Renders are made for at most this many training rows (full MNIST has 54,000).
MAX_RENDERED_ROWS = 8000


@dataclass(frozen=True)
class Jitter:
    """The largest random change of each kind: degrees, zoom factor, pixels."""

    rotation: float = 12.0
    zoom: float = 0.10
    shift: float = 2.8
    elastic: float = 0.0


def random_affine(images: Tensor, generator: torch.Generator, jitter: Jitter = Jitter()) -> Tensor:
    """uint8 (n, H, W) -> uint8 (n, H, W), every image moved by its own random affine map.

    ``jitter.elastic`` > 0 adds Simard et al.'s elastic distortion (2003): a random displacement
    field, smoothed by a Gaussian of ``ELASTIC_SIGMA`` pixels, scaled to 0-``elastic`` pixels at
    most, as if the same digit were written by a slightly different hand.
    """
    n, height, width = images.shape

    def uniform(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=generator) * 2 - 1

    # affine_grid works in [-1, 1] coordinates: a pixel is 2 / width across, 2 / height down.
    pixel = torch.tensor([2 / width, 2 / height])
    angle = uniform(n) * math.radians(jitter.rotation)
    zoom = 1 + uniform(n) * jitter.zoom
    shift = uniform(n, 2) * jitter.shift * pixel
    # theta maps output coordinates to input coordinates, hence the division by zoom.
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, [n, 1, height, width], align_corners=False)
    if jitter.elastic > 0:
        field = _smooth(uniform(n, 2, height, width))
        field = field / field.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
        strength = torch.rand(n, 1, 1, 1, generator=generator) * jitter.elastic
        grid = grid + (field * pixel.view(1, 2, 1, 1) * strength).permute(0, 2, 3, 1)
    moved = F.grid_sample(
        images.to(torch.float32).unsqueeze(1),
        grid.to(images.device),
        align_corners=False,
        padding_mode="zeros",
    )
    return moved.squeeze(1).round_().clamp_(0, 255).to(torch.uint8)


def _smooth(field: Tensor) -> Tensor:
    """A separable Gaussian blur of (n, 2, H, W) displacement fields."""
    radius = int(3 * ELASTIC_SIGMA)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(x**2) / (2 * ELASTIC_SIGMA**2))
    kernel = (kernel / kernel.sum()).to(field.dtype)
    channels = field.shape[1]
    rows = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    cols = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    field = F.conv2d(F.pad(field, (0, 0, radius, radius), mode="reflect"), rows, groups=channels)
    return F.conv2d(F.pad(field, (radius, radius, 0, 0), mode="reflect"), cols, groups=channels)


_renders_cache: dict[tuple[str, int, int], np.ndarray] = {}

# What the renders are drawn from: the suite's kinds it trains on (its own seeds) and the
# scan-like family of training.scans; never the suite's block_scan, thick_pen or stretched.
TRAINING_RENDERERS: dict[str, robustness.Renderer] = {
    **{name: robustness.CONDITIONS[name] for name in robustness.TRAINED_KINDS},
    **scans.RENDERERS,
}


def upload_renders(digits: np.ndarray, per_image: int, seed: int) -> np.ndarray:
    """uint8 (n, per_image, 28, 28): renders of ``digits[:MAX_RENDERED_ROWS]``, conditions drawn
    at random, each preprocessed as the service preprocesses uploads.

    Kept for the process (``train-all`` trains two digit models on the same digits and seed).
    """
    digits = digits[:MAX_RENDERED_ROWS]
    key = (hashlib.sha256(np.ascontiguousarray(digits).tobytes()).hexdigest(), per_image, seed)
    if key not in _renders_cache:
        renderers = list(TRAINING_RENDERERS.values())
        out = np.empty((len(digits), per_image, 28, 28), dtype=np.uint8)
        for i, digit in enumerate(digits):
            for k in range(per_image):
                rng = np.random.default_rng([seed, i, k])
                render = renderers[int(rng.integers(len(renderers)))]
                out[i, k] = robustness.as_uploaded(render(digit, rng))
        _renders_cache.clear()
        _renders_cache[key] = out
    return _renders_cache[key]


class Augmentation(Protocol):
    """Each epoch's rows of the train split (``rows``: their indices) -> what the model sees."""

    def __call__(
        self, rows: Tensor, xs: Tensor, ys: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]: ...


@dataclass(frozen=True)
class Digits:
    """Affine (and elastic) jitter of every image, and a share swapped for upload-like renders.

    ``renders[i]`` are training row ``i``'s renders.
    """

    image: tuple[int, int]
    jitter: Jitter = Jitter()
    renders: Tensor | None = None
    share: float = 0.0
    # Jitter the swapped-in renders too (True), or only the digits as stored (False).
    jitter_renders: bool = True

    def __call__(
        self, rows: Tensor, xs: Tensor, ys: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """``xs`` are training rows ``rows`` (any shape holding H x W pixels per row)."""
        images = xs.reshape(-1, *self.image)
        if not self.jitter_renders:
            images = random_affine(images, generator, self.jitter)
        if self.renders is not None:
            n, per_image = len(images), self.renders.shape[1]
            swap = torch.rand(n, generator=generator) < self.share
            pick = torch.randint(per_image, (n,), generator=generator)
            swap &= rows.cpu() < len(self.renders)
            chosen = swap.nonzero().squeeze(1)
            rendered = self.renders[rows.cpu()[chosen], pick[chosen]].to(images.device)
            images = images.clone()
            images[chosen.to(images.device)] = rendered
        if self.jitter_renders:
            # After the swap, so a render looks a little different every epoch too.
            images = random_affine(images, generator, self.jitter)
        return images.reshape(xs.shape), ys


@dataclass(frozen=True)
class Canvases:
    """As many fresh multi-label canvases as rows, from the train split's jittered digits."""

    digits: Split
    jitter: Jitter = Jitter()

    def __call__(
        self, rows: Tensor, xs: Tensor, ys: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        jittered = random_affine(torch.from_numpy(self.digits.x), generator, self.jitter)
        seed = int(torch.randint(2**62, (1,), generator=generator))
        # Each torchrun rank holds other rows: its canvases must differ from the others'.
        rng = np.random.default_rng([seed, int(rows.min()) if len(rows) else 0])
        fresh = compose(Split(jittered.numpy(), self.digits.y), len(rows), rng)
        return xs.new_tensor(fresh.canvases), ys.new_tensor(fresh.targets)


def augmentation(
    config: TrainConfig,
    data: Dataset,
    image: tuple[int, int] | None,
    seed: int,
    data_dir: Path | None,
) -> Augmentation | None:
    """What ``config.augment`` asks for, for a model whose images are ``image`` (H, W)."""
    if config.augment == "none" or image is None:
        return None
    jitter = Jitter(config.rotation, config.zoom, config.shift, config.elastic)
    if config.augment == "canvases":
        source = load_mnist(data_dir).train
        return Canvases(Split(np.ascontiguousarray(source.x), source.y), jitter)
    renders = None
    if config.augment == "uploads":
        digits = data.train.x.reshape(-1, 28, 28)
        # Its own seeds: never the robustness suite's renders of the test split.
        renders = torch.from_numpy(upload_renders(digits, config.renders_per_image, 1000 + seed))
    return Digits(image, jitter, renders, config.render_share, config.jitter_renders)
