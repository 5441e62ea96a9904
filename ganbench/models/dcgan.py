"""DCGAN generator and discriminator for 8x8, 28x28 and 32x32 images, all members as grouped convolutions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.config import ModelConfig
from ganbench.models.base import MODELS
from ganbench.models.layers import StackedBatchNorm2d, StackedConv2d, StackedLinear, _from_grouped, _to_grouped
from ganbench.rng import MemberRNG


def _dcgan_plan(image_size: int) -> tuple[int, list[int]]:
    """Base resolution and channel multipliers from the base up: 4x4 -> 32x32, 7x7 -> 28x28, 2x2 -> 8x8."""
    if image_size == 32:
        return 4, [4, 2, 1]
    if image_size == 28:
        return 7, [2, 1]
    if image_size == 8:
        return 2, [2, 1]
    raise ValueError(f"dcgan supports 8x8, 28x28 and 32x32 images, not {image_size}x{image_size}")


class DCGANGenerator(nn.Module):
    """Radford et al. 2016: linear to a base grid, then (transposed conv, batch norm, ReLU) doubling the
    resolution, tanh output in [-1, 1]."""

    def __init__(self, members: int, latent_dim: int, sample_shape: tuple[int, ...], width: int, rng: MemberRNG):
        super().__init__()
        channels, size = sample_shape[0], sample_shape[-1]
        self.base, mults = _dcgan_plan(size)
        widths = [m * width for m in mults]
        self.base_channels = widths[0]
        self.project = StackedLinear(members, latent_dim, widths[0] * self.base**2, rng)
        self.norms = nn.ModuleList(StackedBatchNorm2d(members, c, rng) for c in widths)
        self.convs = nn.ModuleList(
            StackedConv2d(members, c_in, c_out, rng, transpose=True)
            for c_in, c_out in zip(widths, widths[1:] + [channels])
        )

    def forward(self, z: Tensor) -> Tensor:
        m, b, _ = z.shape
        h = self.project(z).reshape(m, b, self.base_channels, self.base, self.base)
        h = _to_grouped(h)
        for norm, conv in zip(self.norms, self.convs):
            h = conv(torch.relu(norm(h)))
        return torch.tanh(_from_grouped(h, m))


class DCGANDiscriminator(nn.Module):
    """Radford et al. 2016: strided 4x4 convolutions with leaky ReLU (0.2), batch norm after all but the first
    (none when ``batch_norm`` is False: gradient penalties, spectral norm), a linear layer to one raw score.
    Features for feature matching: the flattened last convolutional activations."""

    def __init__(
        self,
        members: int,
        sample_shape: tuple[int, ...],
        width: int,
        rng: MemberRNG,
        *,
        batch_norm: bool,
        spectral_norm: bool,
    ) -> None:
        super().__init__()
        channels, size = sample_shape[0], sample_shape[-1]
        base, mults = _dcgan_plan(size)
        widths = [m * width for m in reversed(mults)]
        self.convs = nn.ModuleList(
            StackedConv2d(members, c_in, c_out, rng, spectral_norm=spectral_norm)
            for c_in, c_out in zip([channels] + widths, widths)
        )
        self.norms = nn.ModuleList(
            StackedBatchNorm2d(members, c, rng) if batch_norm and i > 0 else nn.Identity() for i, c in enumerate(widths)
        )
        self.out = StackedLinear(members, widths[-1] * base**2, 1, rng, spectral_norm)

    def forward_with_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = _to_grouped(x)
        for conv, norm in zip(self.convs, self.norms):
            h = F.leaky_relu(norm(conv(h)), 0.2)
        features = _from_grouped(h, x.shape[0]).flatten(start_dim=2)
        return self.out(features).squeeze(-1), features

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_with_features(x)[0]


@MODELS.register("dcgan")
def dcgan(
    config: ModelConfig, sample_shape: tuple[int, ...], members: int, rng: MemberRNG, *, d_batch_norm: bool = True
) -> tuple[nn.Module, nn.Module]:
    """DCGAN pair (Radford et al. 2016) for 8x8, 28x28 or 32x32 images with 1 or 3 channels.

    ``width`` is D's first (G's last) number of channels, doubled at every halving of the resolution.
    ``spectral_norm`` normalizes every layer of D (Miyato et al. 2018) and then D has no batch norm, as in
    SNGAN; ``d_batch_norm=False`` (gradient-penalty losses) also removes it.
    """
    if len(sample_shape) != 3:
        raise ValueError(f"dcgan needs [C, H, W] samples, got shape {tuple(sample_shape)}")
    g = DCGANGenerator(members, config.latent_dim, sample_shape, config.width, rng)
    batch_norm = d_batch_norm and not config.spectral_norm
    d = DCGANDiscriminator(
        members, sample_shape, config.width, rng, batch_norm=batch_norm, spectral_norm=config.spectral_norm
    )
    return g, d
