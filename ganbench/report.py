"""Comparison tables built from what the MLflow store holds (so a report can be rebuilt after a crash or on
another machine). pandas appears here and nowhere else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ganbench import metrics as M
from ganbench.tracking import TAG_CONTENDER, TAG_STATUS, MLflowStore

ID_COLUMNS = ["dataset", "loss", "strategy", "contender", "seed", "status", "run_id"]
# stability and diagnostic values that are logged per evaluation but would clutter the comparison table
TABLE_EXCLUDE = {M.LOSS_D, M.LOSS_G, M.DIVERGED_STEP}


def runs_frame(store: MLflowStore, parent_id: str, phase: str = "final") -> pd.DataFrame:
    """One row per child run of ``phase``: identity columns, then the run's final metric values.

    A diverged run's final quality metrics are NaN (its last evaluation predates the divergence); its
    ``best_*`` values and the ``diverged`` flag remain.
    """
    rows = []
    for run in store.children(parent_id, phase):
        p, tags = run.data.params, run.data.tags
        row = {
            "dataset": p.get("dataset"),
            # the contender tag carries the loss's display name, which tells lsgan variants apart
            "loss": (tags.get(TAG_CONTENDER) or p.get("loss", "")).split("|")[0],
            "strategy": p.get("strategy"),
            "contender": tags.get(TAG_CONTENDER),
            "seed": int(p["seed"]) if "seed" in p else None,
            "status": tags.get(TAG_STATUS),
            "run_id": run.info.run_id,
            **run.data.metrics,
        }
        if row["status"] == "diverged":
            for k in run.data.metrics:
                if not k.startswith(("best_", M.DIVERGED, "grad_norm", "loss_")):
                    row[k] = np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ID_COLUMNS)


def metric_columns(frame: pd.DataFrame) -> list[str]:
    cols = [c for c in frame.columns if c not in ID_COLUMNS and c not in TABLE_EXCLUDE]
    return sorted(cols, key=lambda c: (not c.startswith(("fid", "modes", "high", "kl")), c))


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and contender: ``mean ± std`` over seeds of every metric, and the number of seeds."""
    done = frame[frame["status"].isin(["finished", "diverged", "pruned"])]
    if done.empty:
        return pd.DataFrame()
    keys = ["dataset", "loss", "strategy"]
    cols = metric_columns(done)
    grouped = done.groupby(keys, sort=True)[cols]
    mean, std = grouped.mean(), grouped.std(ddof=1)
    table = mean.map(lambda v: f"{v:.4g}").astype(str) + " ± " + std.map(lambda v: f"{v:.2g}").astype(str)
    table = table.where(mean.notna(), "n/a")
    table.insert(0, "seeds", done.groupby(keys).size())
    return table.reset_index()


CONSOLE_METRICS = ("fid_", "modes_covered", "high_quality_pct", "kl_uniform", "best_fid_", "diverged", "kid_")


def console_columns(table: pd.DataFrame) -> list[str]:
    """The headline columns shown in the terminal; the files hold every metric."""
    keep = ["loss", "strategy", "seeds"]
    return keep + [c for c in table.columns if c not in keep and c.startswith(CONSOLE_METRICS)]


def write_tables(table: pd.DataFrame, out_dir: Path, stem: str = "summary") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    csv, md = out_dir / f"{stem}.csv", out_dir / f"{stem}.md"
    table.to_csv(csv, index=False)
    md.write_text(table.to_markdown(index=False) + "\n")
    return [csv, md]
