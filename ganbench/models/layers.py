"""Stacked layers: the weights of ``members`` independent layers applied as one batched operation."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.rng import MemberRNG


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
