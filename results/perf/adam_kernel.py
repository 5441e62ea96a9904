"""Fused Adam on a discriminator's stacked parameters (16 members, MLP 96x2): the kernel ganbench.optim calls
(torch._fused_adam_) against torch's public functional Adam (torch.optim.adam.adam, fused=True), which wraps the
same kernel and must give the same parameters to the bit.

    python results/perf/adam_kernel.py   # output kept in adam_kernel.txt
"""

import time

import torch
from torch.optim.adam import adam

torch.manual_seed(0)
torch.set_num_threads(1)
m = 16
shapes = [(m, 2, 96), (m, 96), (m, 96, 96), (m, 96), (m, 96, 1), (m, 1)]


def mk():
    return [torch.randn(s) for s in shapes]


p1, g, m1, v1 = mk(), mk(), [torch.zeros(s) for s in shapes], [torch.zeros(s) for s in shapes]
p2, m2, v2 = [t.clone() for t in p1], [t.clone() for t in m1], [t.clone() for t in v1]
step = torch.zeros(())
steps2 = [torch.zeros(()) for _ in shapes]


def direct(k):
    step.fill_(k)
    torch._fused_adam_(
        p1,
        g,
        m1,
        v1,
        [],
        [step] * len(p1),
        lr=1e-3,
        beta1=0.5,
        beta2=0.999,
        weight_decay=0.0,
        eps=1e-8,
        amsgrad=False,
        maximize=False,
    )


def public(k):
    adam(
        p2,
        g,
        m2,
        v2,
        [],
        steps2,
        fused=True,
        amsgrad=False,
        beta1=0.5,
        beta2=0.999,
        lr=1e-3,
        weight_decay=0.0,
        eps=1e-8,
        maximize=False,
    )


for k in range(1, 6):
    direct(k)
    public(k)
torch.testing.assert_close(p1, p2, rtol=0, atol=0)
for name, fn in (
    ("kernel", direct),
    ("public adam(fused=True)", public),
    ("kernel", direct),
    ("public adam(fused=True)", public),
):
    n = 3000
    t = time.perf_counter()
    for k in range(6, 6 + n):
        fn(k)
    print(f"{name:>26}: {(time.perf_counter() - t) / n * 1e6:.1f} us per step")
