"""An MLP pair for small images (the digits' native 8x8): images flattened, every member one batched matmul.

At 8x8 a convolution has little to slide over, and on a CPU a grouped convolution costs several times the
batched matmuls of an MLP of similar size (results/images_pilot/RUN.md), so this is the CPU image suite's model.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ganbench.config import ModelConfig
from ganbench.models.base import MODELS
from ganbench.models.mlp import MLPDiscriminator, MLPGenerator
from ganbench.rng import MemberRNG


class ImageMLPGenerator(MLPGenerator):
    """The 2-D sets' MLP generator with a tanh output reshaped to ``[C, H, W]`` (images are in ``[-1, 1]``)."""

    def __init__(
        self, members: int, latent_dim: int, sample_shape: tuple[int, ...], width: int, depth: int, rng: MemberRNG
    ) -> None:
        super().__init__(members, latent_dim, math.prod(sample_shape), width, depth, rng)
        self.sample_shape = tuple(sample_shape)

    def forward(self, z: Tensor) -> Tensor:
        m, b, _ = z.shape
        return torch.tanh(super().forward(z)).reshape(m, b, *self.sample_shape)


class ImageMLPDiscriminator(MLPDiscriminator):
    """The 2-D sets' leaky-ReLU MLP discriminator on flattened images; features: its last hidden layer."""

    def forward_with_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return super().forward_with_features(x.flatten(start_dim=2))


@MODELS.register("image_mlp")
def image_mlp(
    config: ModelConfig, sample_shape: tuple[int, ...], members: int, rng: MemberRNG, **_: object
) -> tuple[nn.Module, nn.Module]:
    """MLP pair for ``[C, H, W]`` images: ``depth`` hidden layers of ``width`` units in G (ReLU, tanh output)
    and D (leaky ReLU 0.2, spectral norm when asked), no batch norm, so every loss (gradient penalties
    included) uses the same D."""
    if len(sample_shape) != 3:
        raise ValueError(f"image_mlp needs [C, H, W] samples, got shape {tuple(sample_shape)}")
    dim = math.prod(sample_shape)
    g = ImageMLPGenerator(members, config.latent_dim, sample_shape, config.width, config.depth, rng)
    d = ImageMLPDiscriminator(members, dim, config.width, config.depth, rng, config.spectral_norm)
    return g, d
