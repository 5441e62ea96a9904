"""Is early stopping sound for a suite? Reads the studies of a tuning run made with ``pruner: none`` (every
trial trained to the end) and prints, per study, the Spearman rank correlation between each trial's primary
metric at an early evaluation and at the end, and whether synchronous successive halving (the better half goes on at each
rung, as ganbench's HalvingPruner with all trials in one population) would have kept the trial that ended
best. Used for the bundled suite's warm-up (results/README.md)."""

from __future__ import annotations

import argparse
import math

import optuna
from scipy.stats import spearmanr


def promoted(values: list[float]) -> list[bool]:
    """The synchronous halving rule at one rung (``ganbench.tuning.HalvingPruner``), all trials judged
    together: the better half, rounded up, goes on (lower is better; non-finite values are the worst)."""
    losses = [v if math.isfinite(v) else math.inf for v in values]
    keep = math.ceil(len(losses) / 2)
    threshold = sorted(losses)[keep - 1]
    return [v <= threshold for v in losses]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("storage", help="the Optuna storage URL, e.g. sqlite:///out/optuna.db")
    ap.add_argument("--rungs", default="2000,4000", help="evaluation steps of the successive-halving rungs")
    args = ap.parse_args()
    rungs = [int(x) for x in args.rungs.split(",")]
    for summary in optuna.get_all_study_summaries(args.storage):
        study = optuna.load_study(study_name=summary.study_name, storage=args.storage)
        trials = [t for t in study.trials if t.state.name == "COMPLETE" and math.isfinite(t.value)]
        if len(trials) < 3:
            print(f"{summary.study_name}: {len(trials)} complete trials, nothing to compare")
            continue
        final = [t.value for t in trials]
        best = min(range(len(trials)), key=lambda i: final[i])
        parts = []
        for step in sorted({s for t in trials for s in t.intermediate_values}):
            if step == max(t.last_step for t in trials):
                continue
            early = [t.intermediate_values.get(step, math.inf) for t in trials]
            rho = spearmanr(early, final).statistic
            parts.append(f"{step}: rho {rho:+.2f}")
        alive = list(range(len(trials)))
        for step in rungs:
            keep = promoted([trials[i].intermediate_values.get(step, math.inf) for i in alive])
            alive = [i for i, k in zip(alive, keep, strict=True) if k]
        name = summary.study_name.split("/")[1]
        print(
            f"{name}: {len(trials)} trials; Spearman(early, final) {', '.join(parts)}; successive halving keeps "
            f"{len(alive)} to the end, the best trial ({final[best]:.3f}) {'kept' if best in alive else 'PRUNED'}"
        )


if __name__ == "__main__":
    main()
