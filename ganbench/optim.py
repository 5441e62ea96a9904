"""Adam and RMSprop for stacked parameters ``[members, ...]`` with a learning rate (and beta1) per member.

torch.optim takes one learning rate per parameter group, so a population whose members were tuned to different
rates needs these. Updates follow torch.optim's formulas, so a population of one matches a plain loop.
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
        self.lr_scale = 1.0  # a schedule's multiplier on every member's lr (set by the trainer at each step)

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
    """Adam (Kingma & Ba 2015) as in ``torch.optim.Adam(fused=True)``; ``lr`` and ``beta1`` may differ per member.

    The update is torch's fused Adam kernel: one pass over parameters, gradients and state, where the
    multi-tensor formulation takes a dozen. For the discriminator of 16 members of the losses suite's MLP on the
    2-core CPU, that was 0.45-0.8 ms per step against 0.07 ms fused (0.13 ms as 16 groups), measured alone;
    whole population steps got 4-6 % faster. The kernel takes one learning rate, so it runs once over whole
    stacked tensors when all members share ``lr`` and ``beta1`` (the seeds of a final phase), otherwise once per
    group of members that do, on their rows. Members that are not active are not updated.

    The kernel is ``torch._fused_adam_``, a private op. The public route to it, ``torch.optim.adam.adam(...,
    fused=True)``, groups the tensors by device and dtype and increments a step tensor per parameter on every
    call before running the same kernel (bit for bit the same result): for the discriminator above, a call took
    1.6 to 1.9 times as long as the kernel's (results/perf/adam_kernel.txt), twice per population step.
    ``torch.optim.Adam`` itself needs leaf tensors, which rows of stacked parameters are not. The tests compare
    every member with its own ``torch.optim.Adam`` (tests/test_train.py, tests/test_gpu.py), so a change of
    the op's signature fails there.
    """

    def __init__(self, params, lr: Tensor, beta1: Tensor, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        self.beta1 = beta1.detach().clone().to(self.lr)
        self.per_member = ["lr", "beta1"]
        self.beta2, self.eps = beta2, eps
        self.state = {
            "exp_avg": [torch.zeros_like(p) for p in self.params],
            "exp_avg_sq": [torch.zeros_like(p) for p in self.params],
        }
        # the kernel reads the step count from a tensor on the parameters' device
        device = self.params[0].device if self.params else self.lr.device
        self._step_tensor = torch.zeros((), dtype=torch.float32, device=device)
        self._forget_groups()
        self._rows_key: tuple[int, ...] = ()
        self._rows: list = []
        # each member's own count of updates, for the bias correction: members of a mixed population with
        # fewer D steps skip some (``step(active)`` counts only the active); equal to ``steps`` otherwise
        self.counts = [0] * len(self.lr)

    def _forget_groups(self) -> None:
        """Drop the cached grouping (members, learning rates or beta1 changed)."""
        self._grouped: tuple[Tensor | None, int, list] = (None, -1, [])

    def _groups(self, active: Tensor) -> list[tuple[float, float, list[int] | None]]:
        """``(lr, beta1, rows)`` per group of active members sharing both; ``rows`` is None for all rows.

        Reading ``active`` is a device sync, so the grouping is kept until ``active`` changes (a new tensor or
        an in-place change, which bumps its version): divergence, pruning, dropped rows."""
        cached, version, groups = self._grouped
        if cached is active and version == active._version:
            return groups
        flags = active.tolist()
        by_value: dict[tuple[float, float], list[int]] = {}
        for r, (on, lr, beta1) in enumerate(zip(flags, self.lr.tolist(), self.beta1.tolist(), strict=True)):
            if on:
                by_value.setdefault((lr, beta1), []).append(r)
        groups = [(lr, b1, None if len(rows) == len(flags) else rows) for (lr, b1), rows in by_value.items()]
        self._grouped = (active, active._version, groups)
        return groups

    def _row_views(self, params: list[Tensor], ms: list[Tensor], vs: list[Tensor], grads: list[Tensor]) -> list:
        """Each tensor's rows as views, ``[params, ms, vs, grads][k][rows of tensor k]``. Those of the parameters
        and state are kept while their storage is the same (the cached views hold it, so a new tensor cannot
        reuse its address); only the gradients, new at every step, are split again."""
        key = tuple(t.data_ptr() for t in params + ms + vs)
        if key != self._rows_key:
            self._rows = [[t.detach().unbind(0) for t in ts] for ts in (params, ms, vs)]
            self._rows_key = key
        return [*self._rows, [g.unbind(0) for g in grads]]

    def select(self, idx: Tensor) -> None:
        super().select(idx)
        self.counts = [self.counts[i] for i in idx.tolist()]
        self._forget_groups()

    def state_dict(self) -> dict:
        return {**super().state_dict(), "counts": torch.tensor(self.counts, dtype=torch.float64)}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        counts = state.get("counts")  # checkpoints from before mixed populations: every member at ``steps``
        self.counts = [self.steps] * len(self.lr) if counts is None else [int(c) for c in counts.tolist()]
        self._forget_groups()

    def _by_count(self, rows: list[int] | None) -> list[tuple[int, list[int] | None]]:
        """``rows`` (None: all) split by their update count; one part, as given, when they agree."""
        if rows is None and self.counts[0] == self.counts[-1] and len(set(self.counts)) == 1:
            return [(self.counts[0], None)]  # every member, at one count: the common case
        members = range(len(self.counts)) if rows is None else rows
        by: dict[int, list[int]] = {}
        for r in members:
            by.setdefault(self.counts[r], []).append(r)
        if len(by) == 1:
            return [(next(iter(by)), rows)]
        return sorted(by.items())

    @torch.no_grad()
    def step(self, active: Tensor, partial: bool = False) -> None:
        """``partial`` is for RMSprop's sake: Adam leaves inactive members' state alone anyway."""
        self.steps += 1
        tensors = self._with_grads("exp_avg", "exp_avg_sq")
        if not tensors[0]:
            return
        groups = [
            (lr, b1, count, part) for lr, b1, rows in self._groups(active) for count, part in self._by_count(rows)
        ]
        if any(rows is not None for *_, rows in groups):
            per_row = self._row_views(*tensors)
        for lr, beta1, count, rows in groups:
            if rows is None:
                params, ms, vs, grads = tensors
            else:
                params, ms, vs, grads = ([u[r] for u in unbound for r in rows] for unbound in per_row)
            if rows is None:
                self.counts = [count + 1] * len(self.counts)
            else:
                for r in rows:
                    self.counts[r] = count + 1
            if len({c for _, _, c, _ in groups}) == 1:
                step = self._step_tensor  # one count (a population whose members all take every step)
            else:
                step = self._step_tensor.new_full((), count + 1)
            step.fill_(count + 1)
            torch._fused_adam_(
                params,
                grads,
                ms,
                vs,
                [],
                [step] * len(params),
                lr=lr * self.lr_scale,
                beta1=beta1,
                beta2=self.beta2,
                weight_decay=0.0,
                eps=self.eps,
                amsgrad=False,
                maximize=False,
            )


class StackedRMSprop(StackedOptimizer):
    """RMSprop as in ``torch.optim.RMSprop`` (alpha 0.99, eps 1e-8, no momentum)."""

    def __init__(self, params, lr: Tensor, alpha: float = 0.99, eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        self.alpha, self.eps = alpha, eps
        self.state = {"square_avg": [torch.zeros_like(p) for p in self.params]}

    @torch.no_grad()
    def step(self, active: Tensor, partial: bool = False) -> None:
        """``partial``: inactive members keep their state too (a mixed population's members with fewer D steps
        sit out some), not only their parameters; a copy of the state per step, so only when asked."""
        self.steps += 1
        params, vs, grads = self._with_grads("square_avg")
        if not params:
            return
        if partial:
            before = [v.clone() for v in vs]
            self._update(params, vs, grads, active)
            for v, old in zip(vs, before, strict=True):
                torch.where(active.view((-1,) + (1,) * (v.dim() - 1)), v, old, out=v)
            return
        self._update(params, vs, grads, active)

    def _update(self, params: list[Tensor], vs: list[Tensor], grads: list[Tensor], active: Tensor) -> None:
        torch._foreach_mul_(vs, self.alpha)
        torch._foreach_addcmul_(vs, grads, grads, 1 - self.alpha)
        denom = torch._foreach_sqrt(vs)
        torch._foreach_add_(denom, self.eps)
        update = torch._foreach_div(grads, denom)
        torch._foreach_mul_(update, self._views(-(self.lr * active * self.lr_scale), params))
        torch._foreach_add_(params, update)
