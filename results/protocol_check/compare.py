"""Pair the 4,000-step runs (runs_4000.jsonl) with the same settings and seeds at 8,000 steps
(results/losses_replicated/runs.csv); run from the project root."""

import json

import pandas as pd

a = pd.DataFrame([json.loads(line) for line in open("results/protocol_check/runs_4000.jsonl")])
cols = ["dataset", "loss", "replicate", "seed", "high_quality_pct", "modes_covered", "w1_raw"]
r = pd.read_csv("results/losses_replicated/runs.csv")[cols]
m = a.merge(r, on=["dataset", "loss", "replicate", "seed"])
g = m.groupby(["dataset", "loss"]).agg(
    hq_4000=("hq", "median"),
    hq_8000=("high_quality_pct", "median"),
    modes_4000=("modes", "median"),
    modes_8000=("modes_covered", "median"),
    w1_4000=("w1", "median"),
    w1_8000=("w1_raw", "median"),
)
print("medians over 6 runs (3 replicates x 2 seeds) per row")
print(g.round(3).to_string())
print(f"runs with a lower HQ % at 4,000 steps: {(m.hq < m.high_quality_pct).sum()} of {len(m)}")
print(f"runs with a higher (worse) W1 at 4,000 steps: {(m.w1 > m.w1_raw).sum()} of {len(m)}")
m.to_csv("results/protocol_check/paired.csv", index=False)
