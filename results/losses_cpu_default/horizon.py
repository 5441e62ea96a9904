"""Retrain this run's tuned settings on their own final seeds at another horizon (the suite's decay still
starts half-way). Usage, from the repository root:
    python results/losses_cpu_default/horizon.py STEPS DATASET [LOSS,LOSS,...]
One JSON line per run: the final metrics at STEPS and the wall seconds."""

import dataclasses
import json
import math
import sys
import time

import pandas as pd
import torch

from ganbench.plan import Hyper, contenders, run_config
from ganbench.suite import load_suite
from ganbench.train import train

HERE = "results/losses_cpu_default"
torch.set_num_threads(1)
steps, dataset = int(sys.argv[1]), sys.argv[2]
only = set(sys.argv[3].split(",")) if len(sys.argv) > 3 else None
suite = load_suite(f"{HERE}/suite.yaml")
tuned = pd.read_csv(f"{HERE}/tuning.csv")
for c in contenders(suite):
    if c.dataset != dataset or (only and c.loss.name not in only):
        continue
    for _, t in tuned[(tuned.dataset == dataset) & (tuned.loss == c.loss.name)].iterrows():
        params = {k: float(t[k]) for k in ("gamma", "gp_weight", "weight_clip") if not math.isnan(t[k])}
        h = Hyper(float(t.lr_g), float(t.lr_d), float(t.beta1), int(t.n_critic), params or None)
        cfg = dataclasses.replace(run_config(suite, c, h, steps=steps), eval_every=min(2000, steps))
        r = int(t.replicate)  # one final seed per replicate: seed r
        t0 = time.time()
        (res,) = train(cfg, [h.member(r)])
        m = res.metrics
        row = dict(steps=steps, dataset=dataset, loss=c.loss.name, replicate=r, seed=r, n_critic=int(t.n_critic))
        row.update(hq=m.get("high_quality_pct"), modes=m.get("modes_covered"), w1=m.get("w1_raw"))
        print(json.dumps(dict(row, sec=round(time.time() - t0))), flush=True)
