"""How a verdict depends on the tuning budget: expected-best curves (Dodge et al. 2019, "Show Your Work"; the
budget plot of Lucic et al. 2018), their compute-matched view, and the check that pruning was sound.

A study's trials are a sample of what its search space gives. The expected best of k trials drawn from the n
observed (with replacement) is, for a lower-is-better objective with values sorted v(1) <= ... <= v(n),
``sum_i v(i) [((n - i + 1) / n)^k - ((n - i) / n)^k]`` (the chance that the best of k is v(i)); for a
higher-is-better one it is applied to -v. A contender's curve pools the trials of all its replicates (each
replicate is an independent draw of the same protocol), so the curve is an average over tuning luck, and its
band (the quartiles of the best of k) shows how much that luck moves it.

A pruned or diverged trial has no final value: it counts as the worst trial of the pool (a trial that halving
stopped would not have been best, which :func:`pruning_check` tests on the trials that ran to the end).

Compute-matched: a trial of a contender that chose 5 D steps and a gradient penalty costs several times one of a
contender with 1 D step. At equal compute C, a contender affords k = C / (its mean GFLOP per trial) trials (k
need not be a whole number in the formula), and the view compares the expected bests at the compute the
cheapest contender spent on its trials.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ganbench import metrics as M
from ganbench.status import Status


def pooled(values: Sequence[float | None], higher: bool) -> np.ndarray:
    """Trial values oriented lower-is-better and sorted, a missing value (pruned, diverged) as the worst."""
    x = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    x = -x if higher else x
    finite = x[np.isfinite(x)]
    if not len(finite):
        return np.array([])
    return np.sort(np.where(np.isfinite(x), x, finite.max()))


def expected_best(values: Sequence[float | None], k: float, higher: bool = False) -> float:
    """Expected best of ``k`` trials drawn with replacement from ``values`` (Dodge et al. 2019, closed form)."""
    v = pooled(values, higher)
    n = len(v)
    if n == 0 or k <= 0:
        return math.nan
    i = np.arange(1, n + 1)
    weights = ((n - i + 1) / n) ** k - ((n - i) / n) ** k
    best = float(np.sum(v * weights))
    return -best if higher else best


def best_quantile(values: Sequence[float | None], k: float, q: float, higher: bool = False) -> float:
    """The ``q`` quantile of the best of ``k`` draws (closed form: P(best <= v(i)) = 1 - ((n - i) / n)^k)."""
    v = pooled(values, higher)
    n = len(v)
    if n == 0 or k <= 0:
        return math.nan
    reach = 1 - ((n - np.arange(1, n + 1)) / n) ** k
    value = float(v[int(np.argmax(reach >= q))])
    return -value if higher else value


def _by_contender(studies: Sequence[Any], dataset: str) -> dict[tuple[str, str], list[Any]]:
    out: dict[tuple[str, str], list[Any]] = {}
    for s in studies:
        if s.dataset == dataset:
            out.setdefault((s.loss, s.strategy), []).append(s)
    return out


def trials_per_replicate(group: list[Any]) -> float:
    return float(np.mean([len(s.trials) for s in group])) if group else math.nan


def budget_curves(studies: Sequence[Any], dataset: str) -> pd.DataFrame:
    """Per contender and k = 1 .. (its pooled trials): the expected best, its quartiles, and the GFLOP k trials
    cost on average."""
    rows = []
    for (loss, strategy), group in sorted(_by_contender(studies, dataset).items()):
        higher = M.is_higher_better(group[0].objective)
        values = [t["value"] for s in group for t in s.trials]
        cost = float(np.mean([t.get("compute", 0.0) for s in group for t in s.trials])) if values else math.nan
        for k in range(1, len(values) + 1):
            rows.append(
                {
                    "loss": loss,
                    "strategy": strategy,
                    "k": k,
                    "expected": expected_best(values, k, higher),
                    "q25": best_quantile(values, k, 0.25, higher),
                    "q75": best_quantile(values, k, 0.75, higher),
                    "gflop": k * cost,
                }
            )
    return pd.DataFrame(rows, columns=["loss", "strategy", "k", "expected", "q25", "q75", "gflop"])


def compute_matched(studies: Sequence[Any], dataset: str) -> pd.DataFrame:
    """Per contender: trials per replicate, mean GFLOP per trial, the share of its trials that diverged (each
    counted as the worst of the pool), the expected best at the suite's trials (equal trials) and at the compute
    the cheapest contender spent (equal compute), and the ranks under each."""
    rows = []
    groups = _by_contender(studies, dataset)
    for (loss, strategy), group in sorted(groups.items()):
        trials = [t for s in group for t in s.trials]
        rows.append(
            {
                "loss": loss,
                "strategy": strategy,
                "trials": trials_per_replicate(group),
                "gflop_per_trial": float(np.mean([t.get("compute", 0.0) for t in trials])) if trials else math.nan,
                "diverged_share": float(np.mean([t.get("status") == Status.DIVERGED for t in trials]))
                if trials
                else math.nan,
                "_values": [t["value"] for t in trials],
                "_higher": M.is_higher_better(group[0].objective),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    budget = float((table["trials"] * table["gflop_per_trial"]).min())
    table["equal_trials"] = [
        expected_best(v, k, h) for v, k, h in zip(table["_values"], table["trials"], table["_higher"])
    ]
    table["equal_compute"] = [
        expected_best(v, budget / c, h) if c > 0 else math.nan
        for v, c, h in zip(table["_values"], table["gflop_per_trial"], table["_higher"])
    ]
    sign = -1 if bool(table["_higher"].iloc[0]) else 1
    table["rank_trials"] = (sign * table["equal_trials"]).rank(method="min")
    table["rank_compute"] = (sign * table["equal_compute"]).rank(method="min")
    table["compute_budget"] = budget
    return table.drop(columns=["_values", "_higher"]).sort_values("rank_trials", ignore_index=True)


def pruning_check(studies: Sequence[Any]) -> pd.DataFrame:
    """Per dataset and pruning rung (a step at which some trial was stopped): over the pairs of trials of one
    study that both ran to the end, how many were ordered at the rung as at the end, and Kendall's tau
    ((concordant - discordant) / pairs)."""
    rows = []
    for dataset in sorted({s.dataset for s in studies}):
        mine = [s for s in studies if s.dataset == dataset]
        rungs = sorted(
            {
                max(int(k) for k in t["steps"])
                for s in mine
                for t in s.trials
                if t.get("status") == Status.PRUNED and t["steps"]
            }
        )
        for rung in rungs:
            concordant = discordant = 0
            for s in mine:
                sign = -1.0 if M.is_higher_better(s.objective) else 1.0
                done = [(t["steps"].get(str(rung)), t["value"]) for t in s.trials if t["value"] is not None]
                done = [(sign * a, sign * b) for a, b in done if a is not None and b is not None]
                for i in range(len(done)):
                    for j in range(i + 1, len(done)):
                        agree = (done[i][0] - done[j][0]) * (done[i][1] - done[j][1])
                        concordant += agree > 0
                        discordant += agree < 0
            pairs = concordant + discordant
            rows.append(
                {
                    "dataset": dataset,
                    "rung": rung,
                    "pairs": pairs,
                    "concordant": concordant,
                    "tau": (concordant - discordant) / pairs if pairs else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=["dataset", "rung", "pairs", "concordant", "tau"])
