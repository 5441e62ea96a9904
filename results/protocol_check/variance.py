"""How much of a contender's run-to-run spread is the tuning's: the variance between the replicates' means
against the variance between seeds inside a replicate, in results/losses_replicated/runs.csv (3 replicates x
2 seeds per contender); run from the project root."""

import pandas as pd

runs = pd.read_csv("results/losses_replicated/runs.csv")
for metric in ["w1_raw", "high_quality_pct", "modes_covered"]:
    rows = []
    for (dataset, loss), g in runs.groupby(["dataset", "loss"]):
        by_replicate = g.groupby("replicate")[metric]
        within = by_replicate.var(ddof=1).mean()  # between seeds of one replicate
        seeds = by_replicate.size().iloc[0]
        # one-way random effects: the replicate means' variance holds within/seeds of seed noise
        between = max(by_replicate.mean().var(ddof=1) - within / seeds, 0.0)
        share = between / (between + within) if between + within > 0 else float("nan")
        rows.append((dataset, loss, within, between, share))
    table = pd.DataFrame(rows, columns=["dataset", "loss", "seed_var", "replicate_var", "replicate_share"])
    print(metric)
    print(table.round(4).to_string(index=False))
    print()
