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

    def _views(self, per_member: Tensor, params: list[Tensor]) -> list[Tensor]:
        """``[members]`` values shaped to broadcast against each ``[members, ...]`` parameter."""
        per_member = per_member.to(params[0])
        return [per_member.view((-1,) + (1,) * (p.dim() - 1)) for p in params]

    def _with_grads(self, *buffers: str) -> tuple[list[Tensor], ...]:
        idx = [i for i, p in enumerate(self.params) if p.grad is not None]
        params = [self.params[i] for i in idx]
        grads = [p.grad for p in params]
        return (params, *([self.state[b][i] for i in idx] for b in buffers), grads)

    def select(self, idx: Tensor) -> None:
        """Keep members ``idx`` (the trainer dropped the others' rows from the parameters)."""
        for k in self.per_member:
            setattr(self, k, getattr(self, k)[idx])
        self.state = {k: [b.index_select(0, idx) for b in v] for k, v in self.state.items()}

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
        # multi-tensor (foreach) ops: a dozen dispatches per step whatever the number of parameters
        self.steps += 1
        params, ms, vs, grads = self._with_grads("exp_avg", "exp_avg_sq")
        if not params:
            return
        torch._foreach_add_(
            ms, torch._foreach_mul(torch._foreach_sub(grads, ms), self._views(1 - self.beta1, params))
        )
        torch._foreach_mul_(vs, self.beta2)
        torch._foreach_addcmul_(vs, grads, grads, 1 - self.beta2)
        bc2_sqrt = (1 - self.beta2**self.steps) ** 0.5
        denom = torch._foreach_sqrt(vs)
        torch._foreach_div_(denom, bc2_sqrt)
        torch._foreach_add_(denom, self.eps)
        update = torch._foreach_div(ms, denom)
        step_size = -(self.lr * active) / (1 - self.beta1**self.steps)
        torch._foreach_mul_(update, self._views(step_size, params))
        torch._foreach_add_(params, update)


class StackedRMSprop(StackedOptimizer):
    """RMSprop as in ``torch.optim.RMSprop`` (alpha 0.99, eps 1e-8, no momentum)."""

    def __init__(self, params, lr: Tensor, alpha: float = 0.99, eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        self.alpha, self.eps = alpha, eps
        self.state = {"square_avg": [torch.zeros_like(p) for p in self.params]}

    @torch.no_grad()
    def step(self, active: Tensor) -> None:
        self.steps += 1
        params, vs, grads = self._with_grads("square_avg")
        if not params:
            return
        torch._foreach_mul_(vs, self.alpha)
        torch._foreach_addcmul_(vs, grads, grads, 1 - self.alpha)
        denom = torch._foreach_sqrt(vs)
        torch._foreach_add_(denom, self.eps)
        update = torch._foreach_div(grads, denom)
        torch._foreach_mul_(update, self._views(-(self.lr * active), params))
        torch._foreach_add_(params, update)
