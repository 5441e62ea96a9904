"""The comparison report, built only from what the MLflow store holds (so it can be rebuilt after a crash or on
another machine). Statistics over seeds.

Per dataset and contender (loss x strategy), every metric is summarized over seeds (mean, std, median, range,
95 % bootstrap CI); contenders are ranked per metric, and the best one is marked together with every contender
that a test over seeds cannot tell apart from it (Wilcoxon signed-rank paired by seed when all contenders share
their seeds, Mann-Whitney U otherwise; Holm correction over the comparisons against the best).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ganbench import metrics as M
from ganbench.report.frame import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    DIAGNOSTICS,
    DONE_STATUSES,
    KEYS,
    metric_columns,
)
from ganbench.report.ranking import ALPHA
from ganbench.status import Status


# ---------------------------------------------------------------------------------------------- statistics
def bootstrap_ci(values: np.ndarray) -> tuple[float, float]:
    """95 % BCa bootstrap interval of the mean (scipy, fixed seed); NaN below two values."""
    x = values[~np.isnan(values)]
    if len(x) < 2:
        return np.nan, np.nan
    if np.ptp(x) == 0:  # every seed the same: the interval is that value (BCa would divide by zero)
        return float(x[0]), float(x[0])
    res = stats.bootstrap((x,), np.mean, confidence_level=CONFIDENCE, n_resamples=BOOTSTRAP_RESAMPLES,
                          method="BCa", rng=np.random.default_rng(BOOTSTRAP_SEED))  # fmt: skip
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def describe(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset, contender and metric: seeds, fraction diverged, n (seeds with a value), mean, std,
    median, min, max and the bootstrap CI of the mean."""
    done = frame[frame["status"].isin(DONE_STATUSES)]
    metrics = metric_columns(done)
    if done.empty or not metrics:
        return pd.DataFrame()
    long = done.melt(id_vars=[*KEYS, "seed"], value_vars=metrics, var_name="metric")
    grouped = long.groupby([*KEYS, "metric"], sort=False)["value"]
    table = grouped.agg(["count", "mean", "std", "median", "min", "max"]).rename(columns={"count": "n"})
    ci = grouped.agg(lambda s: bootstrap_ci(s.to_numpy(dtype=float)))
    table[["ci_low", "ci_high"]] = pd.DataFrame(ci.tolist(), index=ci.index)
    per_contender = done.groupby(KEYS).agg(
        seeds=("run_id", "count"), diverged=("status", lambda s: float((s == Status.DIVERGED).mean()))
    )
    table = table.reset_index().join(per_contender, on=KEYS)
    table["metric"] = pd.Categorical(table["metric"], categories=metrics, ordered=True)
    return table.sort_values(["dataset", "metric", "loss", "strategy"], ignore_index=True)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values for a family of tests; NaN entries are left out of the family."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    order = np.argsort(p[ok])
    m = int(ok.sum())
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[ok][order]))
    out[np.flatnonzero(ok)[order]] = adjusted
    return out


def two_sample_p(best: pd.Series, other: pd.Series, paired: bool) -> float:
    """Two-sided p-value that ``other`` differs from ``best`` (values indexed by seed; NaN seeds dropped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        if paired:
            both = pd.concat([best, other], axis=1, join="inner").dropna()
            if both.empty:
                return np.nan
            diff = both.iloc[:, 0] - both.iloc[:, 1]
            return 1.0 if (diff == 0).all() else float(stats.wilcoxon(diff).pvalue)
        x, y = best.dropna(), other.dropna()
        if x.empty or y.empty:
            return np.nan
        return float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)


def against_best(values: dict[Any, pd.Series], means: pd.Series, higher: bool,
                 paired: bool) -> tuple[Any, dict[Any, tuple[float, float]]]:  # fmt: skip
    """The key of the best mean (the first, on a tie), and for every other key of ``means`` the two-sided p
    that its values (by seed) differ from the best's, raw and Holm-adjusted over those comparisons."""
    best = means.idxmax() if higher else means.idxmin()
    others = [k for k in means.index if k != best]
    p = np.array([two_sample_p(values[best], values[k], paired) for k in others])
    return best, dict(zip(others, zip(p.tolist(), holm(p).tolist(), strict=True)))


def compare(frame: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Add rank (ties share the lowest rank), the test used, raw and Holm-adjusted p against the best
    contender, and the marks: ``best`` and ``tied`` (not distinguishable from the best: p_holm >= ALPHA)."""
    done = frame[frame["status"].isin(DONE_STATUSES)]
    out = summary.assign(rank=np.nan, test="", p_value=np.nan, p_holm=np.nan, best=False, tied=False)
    for (dataset, metric), part in out.groupby(["dataset", "metric"], sort=False, observed=True):
        if metric in DIAGNOSTICS or part["mean"].isna().all():
            continue
        ds = done[done["dataset"] == dataset]
        seeds = ds.groupby(["loss", "strategy"])["seed"].agg(frozenset)
        paired = seeds.nunique() == 1
        by_key = {k: g.set_index("seed")[metric] for k, g in ds.groupby(["loss", "strategy"])}
        values = {i: by_key[(part.at[i, "loss"], part.at[i, "strategy"])] for i in part.index}
        higher = M.is_higher_better(str(metric))
        rank = part["mean"].rank(method="min", ascending=not higher)
        _, tests = against_best(values, part["mean"], higher, paired)
        out.loc[part.index, "rank"] = rank
        out.loc[part.index, "test"] = "wilcoxon" if paired else "mannwhitneyu"
        others = list(tests)
        out.loc[others, "p_value"] = [p for p, _ in tests.values()]
        out.loc[others, "p_holm"] = [q for _, q in tests.values()]
        out.loc[part.index, "best"] = rank == 1
    out["tied"] = out["best"] | (out["p_holm"] >= ALPHA)
    return out
