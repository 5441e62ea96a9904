"""The numbers results/losses_cpu_default/RUN.md reads from the run's own stores and runs.csv.
Usage, from the repository root: python results/losses_cpu_default/store_check.py OUT
(OUT: the run's --out folder, holding optuna.db and mlflow.db; both are opened read-only)."""

import collections
import sqlite3
import statistics
import sys

import pandas as pd

out = sys.argv[1]
runs = pd.read_csv("results/losses_cpu_default/runs.csv")
grid, ring = runs[runs.dataset == "grid25"], runs[runs.dataset == "ring8"]
print(
    "grid25 runs that learned the grid (25/25 modes, HQ > 50 %):",
    ((grid.modes_covered == 25) & (grid.high_quality_pct > 50)).sum(),
    "of",
    len(grid),
)
print(
    "ring8 runs with 8/8 modes and HQ > 50 %:",
    ((ring.modes_covered == 8) & (ring.high_quality_pct > 50)).sum(),
    "of",
    len(ring),
)

optuna = sqlite3.connect(f"file:{out}/optuna.db?mode=ro", uri=True)
names = dict(optuna.execute("select study_id, study_name from studies"))
at = collections.defaultdict(dict)
for trial, step, value in optuna.execute("select trial_id, step, intermediate_value from trial_intermediate_values"):
    at[trial][step] = value
finals = dict(optuna.execute("select trial_id, value from trial_values"))
for dataset in ("grid25", "ring8"):
    stopped, went_on, done = [], [], []
    for trial, study, state in optuna.execute("select trial_id, study_id, state from trials"):
        if dataset not in names[study]:
            continue
        if state == "PRUNED" and max(at[trial]) == 2000:
            stopped.append(at[trial][2000])
        if state == "COMPLETE":
            went_on.append(at[trial][2000])
            done.append(finals[trial])
    print(
        f"{dataset}: {len(stopped)} trials stopped at 2,000, {sum(v > 1.1 for v in stopped)} with W1 above 1.1; "
        f"median W1 at 2,000 of those that went on {statistics.median(went_on):.2f}; "
        f"{sum(v < 0.4 for v in done)} of {len(done)} completed trials with a final W1 below 0.4"
    )

mlflow = sqlite3.connect(f"file:{out}/mlflow.db?mode=ro", uri=True)
tags = collections.defaultdict(dict)
for run, key, value in mlflow.execute("select run_uuid, key, value from tags"):
    tags[run][key] = value
curves = collections.defaultdict(lambda: collections.defaultdict(list))
for run, t in tags.items():
    if t.get("ganbench.phase") != "final":
        continue
    contender = t["mlflow.runName"].split(" ")[0]
    for key, step, value in mlflow.execute("select key, step, value from metrics where run_uuid = ?", (run,)):
        if key in ("w1_raw", "high_quality_pct"):
            curves[(contender, key)][step].append(value)
print("\nmedian over the final runs, by step (2,000 / 4,000 / 6,000 / 8,000):")
for (contender, key), by_step in sorted(curves.items()):
    print(f"  {contender:38s} {key:17s}", " / ".join(f"{statistics.median(v):.3g}" for _, v in sorted(by_step.items())))
