"""The summary table: per dataset, contender (loss x strategy) and metric, statistics over the final runs and
what the comparison concludes (see :mod:`ganbench.report.inference` for the model).

A contender's runs on a dataset are replicates x paired seeds. Each row holds the mean over replicates of the
seed means, its interval, the chance of being best (``p_best``), and the decision against the best contender
with the region of practical equivalence (``rope``) it was made with. A diverged run has no final samples: in
every comparison it counts as the worst value any run reached on the dataset (it is last, as it is in a rank).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

import ganbench.report.inference as I
from ganbench import metrics as M
from ganbench.report.frame import DIAGNOSTICS, metric_columns
from ganbench.status import DONE_VALUES, Status


def base_metric(metric: str) -> str:
    """The metric a ``best_``/``gap_`` variant derives from (its ROPE is that metric's)."""
    return metric.removeprefix("best_").removeprefix("gap_")


def unit_values(done: pd.DataFrame, metric: str, contenders: list[tuple[str, str]]) -> np.ndarray:
    """``[contenders, replicates, seeds]`` values of ``metric`` on one dataset, aligned by replicate and seed
    (a replicate's seeds are shared by every contender), NaN where a run has no value. A diverged run counts as
    the worst value any run reached on the dataset."""
    values = done[metric].astype(float)
    finite = values[np.isfinite(values)]
    if len(finite):
        worst = finite.max() if not M.is_higher_better(metric) else finite.min()
        values = values.where(done["status"] != Status.DIVERGED, worst)
    replicate = done["replicate"].fillna(0).astype(int) if "replicate" in done else 0  # older frames: one
    frame = done.assign(_value=values, replicate=replicate)
    replicates = sorted(frame["replicate"].unique())
    slots = {r: sorted(frame.loc[frame["replicate"] == r, "seed"].dropna().unique()) for r in replicates}
    width = max((len(s) for s in slots.values()), default=0)
    out = np.full((len(contenders), len(replicates), max(width, 1)), np.nan)
    index = {key: i for i, key in enumerate(contenders)}
    for (loss, strategy, r, seed), value in frame.set_index(["loss", "strategy", "replicate", "seed"])[
        "_value"
    ].items():
        if (loss, strategy) in index:
            out[index[(loss, strategy)], replicates.index(r), slots[r].index(seed)] = value
    return out


def describe(runs: pd.DataFrame, ropes: Mapping[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """One row per dataset, contender and metric (see the module docstring); ``ropes`` maps (dataset, metric) to
    the metric's region of practical equivalence (none: 0, and nothing is ever equivalent)."""
    done = runs[runs["status"].isin(DONE_VALUES)]
    metrics = [m for m in metric_columns(done) if m not in M.resources()]
    if done.empty or not metrics:
        return pd.DataFrame()
    rows: list[dict[str, Any]] = []
    for dataset, part in done.groupby("dataset", sort=True):
        contenders = sorted({(a, b) for a, b in zip(part["loss"], part["strategy"])})
        lead = _contender_columns(part, contenders)
        for metric in metrics:
            if part[metric].isna().all():
                continue
            rope = float((ropes or {}).get((str(dataset), base_metric(metric)), 0.0))
            rows += _metric_rows(str(dataset), metric, part, contenders, lead, rope)
    table = pd.DataFrame(rows)
    table["metric"] = pd.Categorical(table["metric"], categories=metrics, ordered=True)
    return table.sort_values(["dataset", "metric", "rank", "loss", "strategy"], ignore_index=True)


def _contender_columns(part: pd.DataFrame, contenders: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """Per contender: replicates, seeds (final runs), the share that diverged, and the compute per run."""
    out = {}
    for key in contenders:
        mine = part[(part["loss"] == key[0]) & (part["strategy"] == key[1])]
        compute = mine[M.COMPUTE].mean() if M.COMPUTE in mine else np.nan
        replicates = int(mine["replicate"].fillna(0).nunique()) if "replicate" in mine else 1
        out[key] = {
            "replicates": replicates,
            "seeds": len(mine),
            "diverged": float((mine["status"] == Status.DIVERGED).mean()),
            "compute_per_run": float(compute),
        }
    return out


def _bounds(metric: str, part: pd.DataFrame) -> tuple[float | None, float | None]:
    """The metric's range; a mode count's ceiling is the dataset's number of modes (8 of ring8's), where known."""
    low, high = M.bounds_of(metric)
    if metric.removeprefix("best_") == M.MODES_COVERED and "modes" in part:
        modes = pd.to_numeric(part["modes"], errors="coerce").dropna()
        if len(modes) and modes.nunique() == 1:
            high = float(modes.iloc[0])
    return low, high


def _metric_rows(
    dataset: str,
    metric: str,
    part: pd.DataFrame,
    contenders: list[tuple[str, str]],
    lead: dict[tuple[str, str], dict],
    rope: float,
) -> list[dict[str, Any]]:
    higher = M.is_higher_better(metric)
    values = unit_values(part, metric, contenders)
    flat = values.reshape(len(contenders), -1)
    with I._quiet():
        means = np.nanmean(I.replicate_means(values), axis=1)
    ranked = metric not in DIAGNOSTICS
    rows = []
    if ranked:
        low, high = I.interval(values, bounds=_bounds(metric, part))
        facing = I.oriented(values, higher)
        p_best = I.chance_best(I.posterior_means(facing))
        order = pd.Series(I.oriented(means, higher)).rank(method="min")
        best = int(np.nanargmin(I.oriented(means, higher))) if np.isfinite(means).any() else -1
    for c, key in enumerate(contenders):
        x = flat[c][np.isfinite(flat[c])]
        row: dict[str, Any] = {
            "dataset": dataset,
            "loss": key[0],
            "strategy": key[1],
            "metric": metric,
            **lead[key],
            "n": len(x),
            "mean": means[c],
            "std": float(x.std(ddof=1)) if len(x) > 1 else np.nan,
            "median": float(np.median(x)) if len(x) else np.nan,
            "min": float(x.min()) if len(x) else np.nan,
            "max": float(x.max()) if len(x) else np.nan,
        }
        if ranked:
            pair = _against(facing, c, best, rope)
            row.update(
                ci_low=low[c],
                ci_high=high[c],
                rank=order[c],
                p_best=p_best[c],
                best=c == best,
                vs_best=pair.decision if c != best else I.BEST,
                p_worse=pair.p_worse,
                p_equivalent=pair.p_equivalent,
                p_better=pair.p_better,
                equivalent_to_best=c == best or pair.decision == I.EQUIVALENT,
                rope=rope,
                unit=I.units(values),
            )
        rows.append(row)
    return rows


def _against(facing: np.ndarray, c: int, best: int, rope: float) -> I.Pair:
    if best < 0:
        return I.Pair.undecided(I.units(facing), 0)
    if c == best:
        return I.Pair(0.0, 1.0, 0.0, I.BEST, 0.0, I.units(facing), facing.shape[1])
    return I.compare(facing[c], facing[best], rope)


def pairwise(runs: pd.DataFrame, dataset: str, metric: str, rope: float) -> pd.DataFrame:
    """Every ordered pair of contenders on one dataset and metric: ``decision`` says how the row contender
    compares with the column contender (worse, equivalent, better, undecided), with its probabilities."""
    part = runs[(runs["dataset"] == dataset) & runs["status"].isin(DONE_VALUES)]
    contenders = sorted({(a, b) for a, b in zip(part["loss"], part["strategy"])})
    facing = I.oriented(unit_values(part, metric, contenders), M.is_higher_better(metric))
    rows = []
    for i, a in enumerate(contenders):
        for j, b in enumerate(contenders):
            if i != j:
                pair = I.compare(facing[i], facing[j], rope)
                rows.append(
                    {
                        "loss": a[0],
                        "strategy": a[1],
                        "other_loss": b[0],
                        "other_strategy": b[1],
                        "decision": pair.decision,
                        "p_worse": pair.p_worse,
                        "p_equivalent": pair.p_equivalent,
                        "p_better": pair.p_better,
                        "difference": pair.difference,
                        "unit": pair.unit,
                        "units": pair.units,
                    }
                )
    return pd.DataFrame(rows)
