"""The stacked optimizers: one fused update for a population, each member's rows as torch.optim would update them
alone, following members that stop and rows that are dropped."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from ganbench.optim import StackedAdam, StackedRMSprop


@pytest.mark.parametrize("kind", ["adam", "rmsprop"])
def test_stacked_optimizers_match_torch_optim(kind):
    torch.manual_seed(0)
    w = torch.randn(3, 4, 5, dtype=torch.float64)
    lrs = [1e-2, 3e-3, 1e-1]
    stacked = torch.nn.Parameter(w.clone())
    singles = [torch.nn.Parameter(w[i].clone()) for i in range(3)]
    if kind == "adam":
        opt = StackedAdam([stacked], torch.tensor(lrs, dtype=torch.float64), torch.tensor([0.5, 0.0, 0.9]), 0.999)
        refs = [torch.optim.Adam([p], lr=lr, betas=(b1, 0.999)) for p, lr, b1 in zip(singles, lrs, [0.5, 0.0, 0.9])]
    else:
        opt = StackedRMSprop([stacked], torch.tensor(lrs, dtype=torch.float64))
        refs = [torch.optim.RMSprop([p], lr=lr) for p, lr in zip(singles, lrs)]
    active = torch.tensor([True, True, False])
    for _ in range(5):
        grad = torch.randn(3, 4, 5, dtype=torch.float64)
        stacked.grad = grad
        opt.step(active)
        for i, (p, ref) in enumerate(zip(singles, refs)):
            if active[i]:
                p.grad = grad[i].clone()
                ref.step()
    for i in range(3):
        assert_close(stacked.detach()[i], singles[i].detach())


def test_stacked_adam_regroups_when_members_stop_or_rows_are_dropped():
    """The fused update is grouped by (lr, beta1) among active members; the grouping is cached, so it must
    follow in-place changes of ``active`` and dropped rows."""
    torch.manual_seed(1)
    w = torch.randn(4, 3, 2, dtype=torch.float64)
    lrs, beta1s = [1e-2, 1e-2, 3e-2, 1e-2], [0.5, 0.5, 0.5, 0.0]
    stacked = torch.nn.Parameter(w.clone())
    opt = StackedAdam([stacked], torch.tensor(lrs, dtype=torch.float64), torch.tensor(beta1s), 0.999)
    singles = [torch.nn.Parameter(w[i].clone()) for i in range(4)]
    refs = [torch.optim.Adam([p], lr=lr, betas=(b1, 0.999)) for p, lr, b1 in zip(singles, lrs, beta1s)]
    rows = [0, 1, 2, 3]  # rows[r]: the member in row r of the stacked tensors
    active = torch.ones(4, dtype=torch.bool)

    def step():
        grad = torch.randn(len(rows), 3, 2, dtype=torch.float64)
        stacked.grad = grad
        opt.step(active)
        for r, i in enumerate(rows):
            if active[r]:
                singles[i].grad = grad[r].clone()
                refs[i].step()

    for _ in range(3):
        step()
    frozen = stacked.detach()[1].clone()
    active[1] = False  # in place, as the trainer marks a diverged member
    for _ in range(3):
        step()
    assert_close(stacked.detach()[1], frozen, rtol=0, atol=0)
    keep = torch.tensor([0, 2, 3])  # the trainer drops the stopped member's row
    with torch.no_grad():
        stacked.data = stacked.data.index_select(0, keep)
    opt.select(keep)
    rows, active = [0, 2, 3], active[keep]
    for _ in range(3):
        step()
    for r, i in enumerate(rows):
        assert_close(stacked.detach()[r], singles[i].detach())
    assert_close(frozen, singles[1].detach())
