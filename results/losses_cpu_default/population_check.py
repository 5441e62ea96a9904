"""Does a member's training depend on the population it trains in? Trains this run's tuned setting of one
loss and dataset for replicate 0 alone, and beside the other replicates with the same D steps (as the suite's
final phase grouped them), then prints the difference of the two critics' first forward pass, both runs' final W1 and HQ % and, per
parameter, the largest difference.
With --elementwise the narrow layers (one or two outputs) are computed as an elementwise product summed over
their inputs instead of a batched matmul (the variant tried and reverted; see RUN.md).
Usage, from the repository root: python results/losses_cpu_default/population_check.py LOSS DATASET STEPS [--elementwise]"""

import dataclasses
import math
import sys

import pandas as pd
import torch

from ganbench.models import layers
from ganbench.plan import Hyper, contenders, run_config
from ganbench.suite import load_suite
from ganbench.train import Trainer

HERE = "results/losses_cpu_default"
torch.set_num_threads(1)
loss, dataset, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
if "--elementwise" in sys.argv:

    def forward(self, x):
        w = self.effective_weight()
        if w.shape[-1] == 1:
            return torch.sum(x * w.transpose(1, 2), dim=-1, keepdim=True) + self.bias
        if w.shape[-1] <= layers.NARROW:
            return torch.sum(x.unsqueeze(-1) * w.unsqueeze(1), dim=-2) + self.bias
        return torch.baddbmm(self.bias, x, w)

    layers.StackedLinear.forward = forward
suite = load_suite(f"{HERE}/suite.yaml")
tuned = pd.read_csv(f"{HERE}/tuning.csv")
c = next(c for c in contenders(suite) if c.dataset == dataset and c.loss.name == loss)
settings = []
for _, t in tuned[(tuned.dataset == dataset) & (tuned.loss == loss)].iterrows():
    params = {k: float(t[k]) for k in ("gamma", "gp_weight", "weight_clip") if not math.isnan(t[k])}
    h = Hyper(float(t.lr_g), float(t.lr_d), float(t.beta1), int(t.n_critic), params or None)
    settings.append((int(t.replicate), h))
first = settings[0][1]
group = [(r, h) for r, h in settings if h.n_critic == first.n_critic]
cfg = dataclasses.replace(run_config(suite, c, first, steps=steps), eval_every=steps)
alone = Trainer(cfg, [first.member(group[0][0])])
together = Trainer(cfg, [h.member(r) for r, h in group])
x = torch.randn(len(group), cfg.batch_size, 2, generator=torch.Generator().manual_seed(0))
with torch.no_grad():  # the same initial critic on the same points, before any step
    forward = (alone.d(x[:1])[0] - together.d(x)[0]).abs().max().item()
print(f"  critic's first forward pass: largest difference {forward:.2e}")
results = alone.run()[0], together.run()[0]
print(f"{loss} {dataset}, {steps} steps; replicate {group[0][0]} alone and in a population of {len(group)}")
for name, res in zip(("alone", "together"), results):
    print(f"  {name:9s} w1_raw {res.metrics['w1_raw']:.10f}  high_quality_pct {res.metrics['high_quality_pct']}")
for part in ("g", "d"):
    for (n, a), b in zip(getattr(alone, part).named_parameters(), getattr(together, part).parameters()):
        print(f"  {part}.{n:16s} largest difference {(a[0] - b[0]).abs().max().item():.2e}")
