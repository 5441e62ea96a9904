"""MLP generator and discriminator for the 2-D mixtures."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.config import ModelConfig
from ganbench.models.base import MODELS
from ganbench.models.layers import StackedLinear
from ganbench.rng import MemberRNG


class MLPGenerator(nn.Module):
    def __init__(self, members: int, latent_dim: int, out_dim: int, width: int, depth: int, rng: MemberRNG):
        super().__init__()
        dims = [latent_dim] + [width] * depth
        self.hidden = nn.ModuleList(StackedLinear(members, i, o, rng) for i, o in zip(dims, dims[1:]))
        self.out = StackedLinear(members, dims[-1], out_dim, rng)

    def forward(self, z: Tensor) -> Tensor:
        h = z
        for layer in self.hidden:
            h = torch.relu_(layer(h))  # in place: the matmul's output is not needed by its backward
        return self.out(h)


class MLPDiscriminator(nn.Module):
    def __init__(self, members: int, in_dim: int, width: int, depth: int, rng: MemberRNG, spectral_norm: bool):
        super().__init__()
        dims = [in_dim] + [width] * depth
        self.hidden = nn.ModuleList(StackedLinear(members, i, o, rng, spectral_norm) for i, o in zip(dims, dims[1:]))
        self.out = StackedLinear(members, dims[-1], 1, rng, spectral_norm)

    def forward_with_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = x
        for layer in self.hidden:
            h = F.leaky_relu_(layer(h), 0.2)
        return self.out(h).squeeze(-1), h

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_with_features(x)[0]


@MODELS.register("mlp")
def mlp(
    config: ModelConfig, sample_shape: tuple[int, ...], members: int, rng: MemberRNG, **_: object
) -> tuple[nn.Module, nn.Module]:
    """MLP pair for 2-D points: ReLU generator, leaky-ReLU discriminator (the mixture literature's setup)."""
    (dim,) = sample_shape
    g = MLPGenerator(members, config.latent_dim, dim, config.width, config.depth, rng)
    d = MLPDiscriminator(members, dim, config.width, config.depth, rng, config.spectral_norm)
    return g, d
