"""Generator/discriminator pairs. Every model is *stacked*: it holds the weights of ``members`` independent
networks and maps ``[members, batch, *in]`` to ``[members, batch, *out]``, so a single run is a population of
one and a seed sweep is one vectorized model (see ``population.py``).

Discriminators return raw scores ``[members, batch]`` (higher = real, no sigmoid) and implement
``forward_with_features`` for feature matching.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganbench.registry import Registry
from ganbench.rng import MemberRNG


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mlp"
    width: int = 128
    depth: int = 3  # hidden layers (MLP)
    latent_dim: int = 2
    spectral_norm: bool = False


ModelFactory = Callable[..., "tuple[nn.Module, nn.Module]"]
MODELS: Registry[ModelFactory] = Registry("model")


class StackedLinear(nn.Module):
    """``members`` independent linear layers applied with one batched matmul."""

    def __init__(self, members: int, fan_in: int, fan_out: int, rng: MemberRNG, spectral_norm: bool = False):
        super().__init__()
        bound = 1 / math.sqrt(fan_in)  # nn.Linear's default initialization
        self.weight = nn.Parameter(rng.rand((fan_in, fan_out)) * 2 * bound - bound)
        self.bias = nn.Parameter(rng.rand((1, fan_out)) * 2 * bound - bound)
        self.spectral_norm = spectral_norm
        if spectral_norm:
            u = rng.randn((fan_out,))
            self.register_buffer("_u", u / u.norm(dim=-1, keepdim=True))

    def effective_weight(self) -> Tensor:
        if not self.spectral_norm:
            return self.weight
        # one power iteration per forward pass in training (Miyato et al. 2018)
        w = self.weight
        with torch.no_grad():
            if self.training:
                v = torch.nn.functional.normalize(torch.einsum("nio,no->ni", w, self._u), dim=-1)
                self._u.copy_(torch.nn.functional.normalize(torch.einsum("nio,ni->no", w, v), dim=-1))
            v = torch.nn.functional.normalize(torch.einsum("nio,no->ni", w, self._u), dim=-1)
        sigma = torch.einsum("ni,nio,no->n", v, w, self._u)
        return w / sigma[:, None, None]

    def forward(self, x: Tensor) -> Tensor:
        return torch.baddbmm(self.bias, x, self.effective_weight())


class MLPGenerator(nn.Module):
    def __init__(self, members: int, latent_dim: int, out_dim: int, width: int, depth: int, rng: MemberRNG):
        super().__init__()
        dims = [latent_dim] + [width] * depth
        self.hidden = nn.ModuleList(StackedLinear(members, i, o, rng) for i, o in zip(dims, dims[1:]))
        self.out = StackedLinear(members, dims[-1], out_dim, rng)

    def forward(self, z: Tensor) -> Tensor:
        h = z
        for layer in self.hidden:
            h = torch.relu(layer(h))
        return self.out(h)


class MLPDiscriminator(nn.Module):
    def __init__(self, members: int, in_dim: int, width: int, depth: int, rng: MemberRNG, spectral_norm: bool):
        super().__init__()
        dims = [in_dim] + [width] * depth
        self.hidden = nn.ModuleList(
            StackedLinear(members, i, o, rng, spectral_norm) for i, o in zip(dims, dims[1:])
        )
        self.out = StackedLinear(members, dims[-1], 1, rng, spectral_norm)

    def forward_with_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = x
        for layer in self.hidden:
            h = torch.nn.functional.leaky_relu(layer(h), 0.2)
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


def create_models(
    config: ModelConfig, sample_shape: tuple[int, ...], seeds: list[int], *, d_batch_norm: bool = True
) -> tuple[nn.Module, nn.Module]:
    """G and D holding one network per seed, each initialized from its own seeded stream."""
    rng = MemberRNG(seeds, salt=1)  # init stream, separate from the training streams
    return MODELS.get(config.name)(config, sample_shape, len(seeds), rng, d_batch_norm=d_batch_norm)
