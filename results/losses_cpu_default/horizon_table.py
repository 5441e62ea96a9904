"""Summarize horizon.jsonl: per loss and replicate, HQ % and modes at 8,000 and 16,000 steps (each setting
retrained alone on its final seed), and how many runs learned the grid (25/25 modes, more than half the
samples of high quality). Usage: python results/losses_cpu_default/horizon_table.py"""

import pandas as pd

runs = pd.read_json("results/losses_cpu_default/horizon.jsonl", lines=True)
runs["learned"] = (runs["modes"] == 25) & (runs["hq"] > 50)
wide = runs.pivot_table(index=["loss", "replicate"], columns="steps", values=["hq", "modes", "w1"])
print(wide.round(2).to_string())
print()
by_steps = runs.groupby("steps").agg(
    runs=("hq", "size"), learned=("learned", "sum"), median_hq=("hq", "median"), median_w1=("w1", "median")
)
print(by_steps.round(3).to_string())
paired = runs.pivot_table(index=["loss", "replicate"], columns="steps", values="hq")
print(f"\nHQ higher at 16,000 than at 8,000 in {(paired[16000] > paired[8000]).sum()} of {len(paired)} settings")
