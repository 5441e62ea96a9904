"""Retrain losses_replicated's tuned settings on their own final seeds at another horizon."""
import sys, json, math, time, torch
import pandas as pd
from ganbench.suite import load_suite
from ganbench.plan import contenders, run_config, Hyper
from ganbench.train import train
torch.set_num_threads(1)
steps, dataset = int(sys.argv[1]), sys.argv[2]
only = sys.argv[3] if len(sys.argv) > 3 else None
suite = load_suite("results/losses_replicated/suite.yaml")
tun = pd.read_csv("results/losses_replicated/tuning.csv")
for c in contenders(suite):
    if c.dataset != dataset or (only and c.loss.name != only):
        continue
    for _, t in tun[(tun.dataset == dataset) & (tun.loss == c.loss.name)].iterrows():
        params = {k: float(t[k]) for k in ("gamma", "gp_weight") if k in t and not math.isnan(t[k])}
        h = Hyper(float(t.lr_g), float(t.lr_d), float(t.beta1), int(t.n_critic), params or None)
        cfg = run_config(suite, c, h, steps=steps)
        import dataclasses
        cfg = dataclasses.replace(cfg, eval_every=min(1000, steps))
        r = int(t.replicate)
        t0 = time.time()
        res = train(cfg, [h.member(2 * r), h.member(2 * r + 1)])
        for s, x in zip((2 * r, 2 * r + 1), res):
            m = x.metrics
            print(json.dumps(dict(steps=steps, dataset=dataset, loss=c.loss.name, replicate=r, seed=s, n_critic=int(t.n_critic),
                  hq=m.get("high_quality_pct"), modes=m.get("modes_covered"), w1=m.get("w1_raw"), sec=round(time.time() - t0))), flush=True)
