"""The summary as tables: a wide table per dataset (cells mean ± std, marks), and the detail table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ganbench.report.frame import DIAGNOSTICS


# ---------------------------------------------------------------------------------------------- tables
def cell_text(mean: float, std: float, pm: str = " ± ") -> str:
    if pd.isna(mean):
        return "n/a"
    return f"{mean:.4g}" if pd.isna(std) else f"{mean:.4g}{pm}{std:.2g}"


def wide_table(summary: pd.DataFrame, dataset: str, pm: str = " ± ") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The headline table of one dataset: a row per contender, ``mean ± std`` per ranked metric, and the marks
    (``"best"``, ``"tied"`` or ``""``) in a frame of the same shape."""
    part = summary[(summary["dataset"] == dataset) & ~summary["metric"].isin(DIAGNOSTICS)]
    part = part.assign(cell=[cell_text(m, s, pm) for m, s in zip(part["mean"], part["std"])],
                       mark=np.where(part["best"], "best", np.where(part["tied"], "tied", "")))  # fmt: skip
    index = ["loss", "strategy"]
    cells = part.pivot(index=index, columns="metric", values="cell")
    marks = part.pivot(index=index, columns="metric", values="mark")
    lead = part.drop_duplicates(index).set_index(index)[["seeds", "diverged"]]
    lead = lead.assign(
        seeds=lead["seeds"].astype(int).astype(str), diverged=lead["diverged"].map("{:.0%}".format)
    )
    cells.columns = marks.columns = [str(c) for c in cells.columns]
    return lead.join(cells), lead.map(lambda _: "").join(marks)


def detail_table(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Every statistic of one dataset: a row per metric and contender (seeds and diverged are in the wide
    table; the marks become one ``mark`` column)."""
    part = summary[summary["dataset"] == dataset]
    mark = np.where(part["best"], "best", np.where(part["tied"], "tied", ""))
    part = part.drop(columns=["dataset", "seeds", "diverged", "best", "tied"]).assign(mark=mark)
    return part.set_index(["metric", "loss", "strategy"])


@dataclass(frozen=True)
class Section:
    """A titled part of the report beyond the per-dataset tables (strategies, tuning), as Markdown and HTML."""

    title: str
    markdown: str
    html: str
    lines: tuple[str, ...] = ()  # its answers as short lines, for the terminal (none: not shown there)
    after_datasets: bool = False  # placed after the per-dataset tables (else before them, after the ranking)
