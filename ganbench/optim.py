"""Adam and RMSprop for stacked parameters ``[members, ...]`` with a learning rate (and beta1) per member.

torch.optim takes one learning rate per parameter group, so a population whose members were tuned to different
rates needs these. Updates follow torch.optim's formulas exactly, so a population of one matches a plain loop.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn


class StackedOptimizer:
    """Base: per-member ``lr`` (shape ``[members]``); members with ``active == False`` are not updated."""

    def __init__(self, params: Iterable[nn.Parameter], lr: Tensor) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr = lr.detach().clone()
        self.per_member = ["lr"]
        self.state: dict[str, list[Tensor]] = {}
        self.steps = 0

    def _view(self, per_member: Tensor, p: Tensor) -> Tensor:
        return per_member.to(p).view((-1,) + (1,) * (p.dim() - 1))

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def state_dict(self) -> dict:
        """Per-member hyperparameters ``[members]``, the step count, and per-parameter buffer lists."""
        hyper = {k: getattr(self, k) for k in self.per_member}
        return {**hyper, "steps": self.steps, **{k: list(v) for k, v in self.state.items()}}

    def load_state_dict(self, state: dict) -> None:
        for k in self.per_member:
            setattr(self, k, state[k].clone().to(getattr(self, k)))
        self.steps = int(state["steps"])
        for k in self.state:
            for dst, src in zip(self.state[k], state[k], strict=True):
                dst.copy_(src)


class StackedAdam(StackedOptimizer):
    """Adam (Kingma & Ba 2015) as in ``torch.optim.Adam``; ``beta1`` may differ per member."""

    def __init__(self, params, lr: Tensor, beta1: Tensor, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        self.beta1 = beta1.detach().clone().to(self.lr)
        self.per_member = ["lr", "beta1"]
        self.beta2, self.eps = beta2, eps
        self.state = {
            "exp_avg": [torch.zeros_like(p) for p in self.params],
            "exp_avg_sq": [torch.zeros_like(p) for p in self.params],
        }

    @torch.no_grad()
    def step(self, active: Tensor) -> None:
        self.steps += 1
        bc1 = 1 - self.beta1**self.steps  # [members]
        bc2_sqrt = (1 - self.beta2**self.steps) ** 0.5
        step_size = -(self.lr * active) / bc1
        for p, m, v in zip(self.params, self.state["exp_avg"], self.state["exp_avg_sq"]):
            if p.grad is None:
                continue
            g = p.grad
            b1 = self._view(self.beta1, p)
            m.mul_(b1).add_(g * (1 - b1))
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            denom = (v.sqrt() / bc2_sqrt).add_(self.eps)
            p.addcdiv_(m * self._view(step_size, p), denom)


class StackedRMSprop(StackedOptimizer):
    """RMSprop as in ``torch.optim.RMSprop`` (alpha 0.99, eps 1e-8, no momentum)."""

    def __init__(self, params, lr: Tensor, alpha: float = 0.99, eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        self.alpha, self.eps = alpha, eps
        self.state = {"square_avg": [torch.zeros_like(p) for p in self.params]}

    @torch.no_grad()
    def step(self, active: Tensor) -> None:
        self.steps += 1
        step_size = -(self.lr * active)
        for p, v in zip(self.params, self.state["square_avg"]):
            if p.grad is None:
                continue
            v.mul_(self.alpha).addcmul_(p.grad, p.grad, value=1 - self.alpha)
            p.addcdiv_(p.grad * self._view(step_size, p), v.sqrt().add_(self.eps))
