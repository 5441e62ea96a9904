"""The summary as tables: a wide table per dataset (contenders ranked, each cell the mean with its interval, one
number format per metric, the marks of one rule), and the detail table with every statistic."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

import ganbench.report.inference as I
from ganbench import metrics as M
from ganbench.report.frame import DIAGNOSTICS

REAL_ROW = "real data"  # the row of what real samples score (mean ± sd over independent draws)
# shown only in the detail table: derived (best_/gap_), or misleading as a column of the main table (raw FID
# sees only means and covariances, see the README)
MARK = {I.BEST: "best", I.EQUIVALENT: "equivalent", I.UNDECIDED: "undecided"}  # a cell's mark by decision


def decimals(values: Sequence[float]) -> int:
    """Decimals that show a column's typical value with three significant digits, in fixed notation."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not finite:
        return 2
    return int(min(max(0, 2 - math.floor(math.log10(float(np.median(finite))))), 6))


def number(value: float, places: int) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{places}f}"


def cell(mean: float, low: float, high: float, places: int) -> str:
    """``mean [low, high]``, or the mean alone when there is no interval."""
    if mean is None or not math.isfinite(mean):
        return "n/a"
    if low is None or not (math.isfinite(low) and math.isfinite(high)):
        return number(mean, places)
    return f"{number(mean, places)} [{number(low, places)}, {number(high, places)}]"


def shown_metrics(summary: pd.DataFrame, dataset: str, primary: str | None) -> list[str]:
    """The main table's metric columns: the primary metric first, then the ranked metrics that matter for the
    dataset, in the report's order."""
    part = summary[summary["dataset"] == dataset]
    metrics = [str(m) for m in part["metric"].cat.categories if (part["metric"] == m).any()] if len(part) else []
    keep = [m for m in metrics if m not in DIAGNOSTICS and not M.detail_only(m)]
    return ([primary] if primary in keep else []) + [m for m in keep if m != primary]


def formats(summary: pd.DataFrame, dataset: str) -> dict[str, int]:
    """Decimals per metric of one dataset, the same in every format: the metric's spec's, else from its
    contenders' means."""
    part = summary[summary["dataset"] == dataset]
    out = {}
    for m, g in part.groupby("metric", observed=True):
        fixed = M.decimals_of(str(m))
        out[str(m)] = fixed if fixed is not None else decimals(g["mean"].tolist())
    return out


def wide_table(
    summary: pd.DataFrame, dataset: str, primary: str | None, real: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One dataset's main table and its marks (a frame of the same shape: best, equivalent, undecided or "").

    Rows are the contenders ranked by the primary metric (then the real-data row); columns ``p_best`` and
    ``vs best`` (the primary metric's), the shown metrics as ``mean [95% interval]``, the share of diverged runs
    and the compute per run."""
    part = summary[summary["dataset"] == dataset]
    metrics = shown_metrics(summary, dataset, primary)
    places = formats(summary, dataset)
    lead = part[part["metric"] == (primary or metrics[0])].sort_values(["rank", "loss", "strategy"])
    index = pd.MultiIndex.from_frame(lead[["loss", "strategy"]])
    cells = pd.DataFrame(index=index)
    marks = pd.DataFrame("", index=index, columns=[])
    cells["p_best"] = [f"{p:.2f}" if pd.notna(p) else "" for p in lead["p_best"]]
    cells["vs best"] = lead["vs_best"].fillna("").to_list()
    marks["p_best"], marks["vs best"] = "", ""
    for metric in metrics:
        rows = part[part["metric"] == metric].set_index(["loss", "strategy"]).reindex(index)
        cells[metric] = [
            cell(m, lo, hi, places[metric]) for m, lo, hi in zip(rows["mean"], rows["ci_low"], rows["ci_high"])
        ]
        marks[metric] = [MARK.get(v, "") for v in rows["vs_best"]]
    cells["diverged"] = [f"{d:.0%}" for d in lead["diverged"]]
    cells["GFLOP/run"] = [number(c, decimals(lead["compute_per_run"].tolist())) for c in lead["compute_per_run"]]
    marks["diverged"], marks["GFLOP/run"] = "", ""
    if real is not None and not real.empty:
        cells, marks = _with_real(cells, marks, real[real["dataset"] == dataset], metrics, places)
    return cells, marks


def _with_real(
    cells: pd.DataFrame, marks: pd.DataFrame, real: pd.DataFrame, metrics: list[str], places: dict[str, int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table with a last row of what real samples score: mean ± sd over the real draws."""
    by_metric = real.set_index("metric")
    row = {c: "" for c in cells.columns}
    for metric in metrics:
        if metric in by_metric.index:
            r = by_metric.loc[metric]
            sd = f" ± {number(r['std'], places[metric])}" if pd.notna(r["std"]) else ""
            row[metric] = number(r["mean"], places[metric]) + sd
    key = (REAL_ROW, "")
    cells = pd.concat([cells, pd.DataFrame([row], index=pd.MultiIndex.from_tuples([key], names=cells.index.names))])
    marks = pd.concat(
        [
            marks,
            pd.DataFrame(
                [dict.fromkeys(marks.columns, "")], index=pd.MultiIndex.from_tuples([key], names=marks.index.names)
            ),
        ]
    )
    return cells, marks


DETAIL_COLUMNS = [
    "replicates",
    "seeds",
    "n",
    "mean",
    "ci_low",
    "ci_high",
    "std",
    "median",
    "min",
    "max",
    "rank",
    "p_best",
    "vs_best",
    "p_worse",
    "p_equivalent",
    "p_better",
    "rope",
    "unit",
]


def detail_table(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Every statistic of one dataset as text: a row per metric and contender, each metric's statistics in its
    decimals (as in the main table), probabilities with two."""
    part = summary[summary["dataset"] == dataset]
    places = formats(summary, dataset)
    columns = [c for c in DETAIL_COLUMNS if c in part]
    out = part.set_index(["metric", "loss", "strategy"])[columns].astype(object)
    for (metric, _, _), row in out.iterrows():
        for c in columns:
            v = row[c]
            if c in ("mean", "ci_low", "ci_high", "std", "median", "min", "max", "rope"):
                row[c] = number(v, places[str(metric)])
            elif c.startswith("p_"):
                row[c] = "" if pd.isna(v) else f"{v:.2f}"
            elif c in ("rank", "replicates", "seeds", "n"):
                row[c] = "" if pd.isna(v) else f"{v:.0f}"
            else:
                row[c] = "" if pd.isna(v) else str(v)
        out.loc[(metric, row.name[1], row.name[2])] = row
    return out


@dataclass(frozen=True)
class Section:
    """A titled part of the report beyond the per-dataset tables (strategies, tuning), as Markdown and HTML."""

    title: str
    markdown: str
    html: str
    lines: tuple[str, ...] = ()  # its answers as short lines, for the terminal (none: not shown there)
    after_datasets: bool = False  # placed after the per-dataset tables (else before them, after the ranking)
