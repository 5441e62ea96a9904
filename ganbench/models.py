"""Generator/discriminator pairs. Every model is *stacked*: it holds the weights of ``members`` independent
networks and maps ``[members, batch, *in]`` to ``[members, batch, *out]``, so a single run is a population of
one and a seed sweep is one vectorized model (trained by ``train.py``).

Discriminators return raw scores ``[members, batch]`` (higher = real, no sigmoid) and implement
``forward_with_features`` for feature matching.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
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
        # weight is [members, in, out]; the norm is of [out, in] per member
        return _spectral_normalized(self.weight.transpose(1, 2), self._u, self.training).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        w = self.effective_weight()
        if w.shape[-1] <= NARROW and x.shape[0] >= NARROW_MEMBERS and x.device.type == "cpu":
            return _NarrowLinear.apply(x, w, self.bias)
        return torch.baddbmm(self.bias, x, w)


# Layers with this many outputs or fewer (a critic's score, a 2-D point) take _NarrowLinear on CPU when they
# stack this many members or more: measured there, it is 2-3x faster from 4 members on and a little slower
# below (its Python backward costs more than it saves). On GPUs it was not measured, so they keep baddbmm.
NARROW, NARROW_MEMBERS = 4, 4


class _NarrowLinear(torch.autograd.Function):
    """``x [M, B, K] @ w [M, K, N] + b`` for small N, computed in the orientation BLAS is fast at.

    With N = 1 or 2, ``x @ w`` and its weight gradient ``x^T @ grad`` run at a few GFLOP/s on CPU (about 0.3 ms
    each for 16 members of the losses suite's MLP), while ``w^T @ x^T`` and ``grad^T @ x`` take 0.04-0.14 ms.
    The backward is written in differentiable ops, so gradient penalties can differentiate through it again.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(x, w)
        return (torch.bmm(w.transpose(1, 2), x.transpose(1, 2)).transpose(1, 2) + b).contiguous()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, w = ctx.saved_tensors
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:  # one output: an outer product, a broadcast multiply beats a matmul
            gx = grad * w.transpose(1, 2) if w.shape[-1] == 1 else torch.bmm(grad, w.transpose(1, 2))
        if ctx.needs_input_grad[1]:
            gw = torch.bmm(grad.transpose(1, 2), x).transpose(1, 2)
        if ctx.needs_input_grad[2]:
            gb = grad.sum(1, keepdim=True)
        return gx, gw, gb


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
    def __init__(
        self, members: int, in_dim: int, width: int, depth: int, rng: MemberRNG, spectral_norm: bool
    ):
        super().__init__()
        dims = [in_dim] + [width] * depth
        self.hidden = nn.ModuleList(
            StackedLinear(members, i, o, rng, spectral_norm) for i, o in zip(dims, dims[1:])
        )
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


def create_models(
    config: ModelConfig, sample_shape: tuple[int, ...], seeds: list[int], *, d_batch_norm: bool = True
) -> tuple[nn.Module, nn.Module]:
    """G and D holding one network per seed, each initialized from its own seeded stream."""
    rng = MemberRNG(seeds, salt=1)  # init stream, separate from the training streams
    return MODELS.get(config.name)(config, sample_shape, len(seeds), rng, d_batch_norm=d_batch_norm)


# ------------------------------------------------------------------------------------------------- DCGAN
# Convolutions of all members run as one grouped convolution: inside G and D activations are kept in the
# "grouped" layout [batch, members * C, H, W] (member m owns channels m*C .. m*C + C - 1); parameters keep the
# member dimension first, as the stacked optimizers and checkpoint slicing expect.


def _to_grouped(x: Tensor) -> Tensor:
    """``[members, batch, C, H, W]`` -> ``[batch, members * C, H, W]``."""
    m, b, c, h, w = x.shape
    return x.transpose(0, 1).reshape(b, m * c, h, w)


def _from_grouped(x: Tensor, members: int) -> Tensor:
    """``[batch, members * C, H, W]`` -> ``[members, batch, C, H, W]``."""
    b, mc, h, w = x.shape
    return x.reshape(b, members, mc // members, h, w).transpose(0, 1)


def _spectral_normalized(w: Tensor, u: Tensor, training: bool) -> Tensor:
    """``w [members, out, ...]`` divided by its largest singular value (of ``w`` as ``[out, rest]`` per
    member), estimated by one power iteration per training forward pass (Miyato et al. 2018)."""
    mat = w.flatten(start_dim=2)
    with torch.no_grad():
        if training:
            v = F.normalize(torch.einsum("nor,no->nr", mat, u), dim=-1)
            u.copy_(F.normalize(torch.einsum("nor,nr->no", mat, v), dim=-1))
        v = F.normalize(torch.einsum("nor,no->nr", mat, u), dim=-1)
    # a copy of u: the next training forward pass updates it in place, and backward still needs this one
    sigma = torch.einsum("no,nor,nr->n", u.clone(), mat, v)
    return w / sigma.view((-1,) + (1,) * (w.dim() - 1))


class StackedConv2d(nn.Module):
    """``members`` independent 4x4 (transposed) convolutions in the grouped layout; DCGAN init N(0, 0.02)."""

    def __init__(
        self,
        members: int,
        c_in: int,
        c_out: int,
        rng: MemberRNG,
        *,
        stride: int = 2,
        padding: int = 1,
        transpose: bool = False,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.stride, self.padding, self.transpose = stride, padding, transpose
        self.weight = nn.Parameter(0.02 * rng.randn((c_out, c_in, 4, 4)))  # [members, out, in, k, k]
        self.bias = nn.Parameter(torch.zeros(members, c_out))
        self.spectral_norm = spectral_norm
        if spectral_norm:
            u = rng.randn((c_out,))
            self.register_buffer("_u", u / u.norm(dim=-1, keepdim=True))

    def forward(self, x: Tensor) -> Tensor:
        w = _spectral_normalized(self.weight, self._u, self.training) if self.spectral_norm else self.weight
        m, c_out, c_in = w.shape[:3]
        bias = self.bias.reshape(-1)
        if self.transpose:  # conv_transpose2d wants [members * in, out, k, k]
            w = w.transpose(1, 2).reshape(m * c_in, c_out, 4, 4)
            return F.conv_transpose2d(x, w, bias, self.stride, self.padding, groups=m)
        return F.conv2d(x, w.reshape(m * c_out, c_in, 4, 4), bias, self.stride, self.padding, groups=m)


class StackedBatchNorm2d(nn.Module):
    """Batch norm with statistics and affine parameters per member (grouped layout); DCGAN init N(1, 0.02)."""

    def __init__(self, members: int, channels: int, rng: MemberRNG, momentum: float = 0.1) -> None:
        super().__init__()
        self.momentum = momentum
        self.weight = nn.Parameter(1 + 0.02 * rng.randn((channels,)))
        self.bias = nn.Parameter(torch.zeros(members, channels))
        self.register_buffer("running_mean", torch.zeros(members, channels))
        self.register_buffer("running_var", torch.ones(members, channels))

    def forward(self, x: Tensor) -> Tensor:
        # views share storage, so F.batch_norm's in-place update of the running statistics lands in the buffers
        mean, var = self.running_mean.view(-1), self.running_var.view(-1)
        weight, bias = self.weight.reshape(-1), self.bias.reshape(-1)
        return F.batch_norm(x, mean, var, weight, bias, self.training, self.momentum, 1e-5)


def _dcgan_plan(image_size: int) -> tuple[int, list[int]]:
    """Base resolution and channel multipliers from the base up: 4x4 -> 32x32 or 7x7 -> 28x28."""
    if image_size == 32:
        return 4, [4, 2, 1]
    if image_size == 28:
        return 7, [2, 1]
    raise ValueError(f"dcgan supports 28x28 and 32x32 images, not {image_size}x{image_size}")


class DCGANGenerator(nn.Module):
    """Radford et al. 2016: linear to a base grid, then (transposed conv, batch norm, ReLU) doubling the
    resolution, tanh output in [-1, 1]."""

    def __init__(
        self, members: int, latent_dim: int, sample_shape: tuple[int, ...], width: int, rng: MemberRNG
    ):
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
            StackedBatchNorm2d(members, c, rng) if batch_norm and i > 0 else nn.Identity()
            for i, c in enumerate(widths)
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
    config: ModelConfig,
    sample_shape: tuple[int, ...],
    members: int,
    rng: MemberRNG,
    *,
    d_batch_norm: bool = True,
) -> tuple[nn.Module, nn.Module]:
    """DCGAN pair (Radford et al. 2016) for 28x28 or 32x32 images with 1 or 3 channels.

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
