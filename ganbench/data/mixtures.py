"""The 2-D Gaussian mixtures of the mode-coverage literature (Unrolled GAN, VEEGAN, PacGAN): ``ring8``, ``grid25``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ganbench.data.base import DataOptions, register_dataset
from ganbench.rng import MemberRNG


@dataclass(frozen=True)
class GaussianMixture:
    """Isotropic 2-D Gaussian mixture with equal weights; infinite data (each batch freshly drawn)."""

    name: str
    means: Tensor  # [modes, 2]
    sigma: float
    kind: str = "points"
    sample_shape: tuple[int, ...] = (2,)
    protocol: dict[str, Any] = field(default_factory=dict)

    @property
    def num_modes(self) -> int:
        return self.means.shape[0]

    def sample(self, rng: MemberRNG, batch: int, dtype: torch.dtype = torch.float32) -> Tensor:
        idx = rng.randint(self.num_modes, (batch,))
        means = self.means.to(device=rng.device, dtype=dtype)
        return means[idx] + self.sigma * rng.randn((batch, 2), dtype=dtype)

    def reference(self, n: int, seed: int) -> Tensor:
        return self.sample(MemberRNG([seed], salt=7), n)[0]


@register_dataset("ring8", kind="points")
def ring8(options: DataOptions) -> GaussianMixture:
    """8 Gaussians evenly spaced on the unit circle, sigma = 0.01 (Unrolled GAN, VEEGAN, PacGAN)."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    means = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1).float()
    return GaussianMixture("ring8", means, 0.01, protocol={"means": "unit circle, 8 evenly spaced"})


@register_dataset("grid25", kind="points")
def grid25(options: DataOptions) -> GaussianMixture:
    """25 Gaussians with means on {-4, -2, 0, 2, 4}^2, sigma = 0.05 (VEEGAN, PacGAN)."""
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    means = torch.cartesian_prod(ticks, ticks)
    return GaussianMixture("grid25", means, 0.05, protocol={"means": "{-4, -2, 0, 2, 4}^2"})
