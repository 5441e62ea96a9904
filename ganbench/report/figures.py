"""The report's figures, read from the store and drawn by :mod:`ganbench.report.plots`."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import ganbench.report.plots as plots
from ganbench import metrics as M
from ganbench.report.frame import (
    DONE_STATUSES,
    metric_columns,
)
from ganbench.report.ranking import ALPHA, Ranking, joined_matrix
from ganbench.report.writers import (
    CURVE_METRICS,
    MAX_SAMPLE_SEEDS,
    OBJECTIVE_KEYS,
    RANKING_FIGURES,
    TRIAL_TAGS,
    _file_stem,
)
from ganbench.status import Status
from ganbench.tracking import TAG_STATUS, MLflowStore, loss_label


def _contender(loss: str, strategy: str) -> str:
    return f"{loss}|{strategy}"


def curve_bands(store: MLflowStore, runs: pd.DataFrame, primary: str | None = None) -> dict[str, dict[str, plots.Band]]:  # fmt: skip
    """Per curve metric (and the primary metric, first) and contender: each seed's metric history (one value per
    step) aggregated over seeds."""
    metrics = [
        c
        for c in metric_columns(runs)
        if (c.startswith(CURVE_METRICS) or c == primary) and runs[c].notna().any()
    ]
    metrics.sort(key=lambda c: c != primary)
    out: dict[str, dict[str, plots.Band]] = {}
    for metric in metrics:
        for (loss, strategy), part in runs.groupby(["loss", "strategy"], sort=True):
            seeds = {run_id: dict(store.history(run_id, metric)) for run_id in part["run_id"]}
            by_step = pd.DataFrame(seeds).sort_index()
            if by_step.empty:
                continue
            band = plots.Band(by_step.index.to_numpy(float), by_step.mean(axis=1).to_numpy(),
                              by_step.min(axis=1).to_numpy(), by_step.max(axis=1).to_numpy())  # fmt: skip
            out.setdefault(metric, {})[_contender(loss, strategy)] = band
    return out


def last_samples(store: MLflowStore, runs: pd.DataFrame, tmp: Path) -> dict[tuple[str, str], Any]:
    """The last ``samples/step_*.png`` artifact of each run (first seeds only), keyed (contender, seed)."""
    import matplotlib.image

    cells = {}
    for (loss, strategy), part in runs.groupby(["loss", "strategy"], sort=True):
        for run_id, seed in zip(part["run_id"][:MAX_SAMPLE_SEEDS], part["seed"][:MAX_SAMPLE_SEEDS]):
            pngs = [a.path for a in store.client.list_artifacts(run_id, "samples") if a.path.endswith(".png")]
            if pngs:
                local = store.client.download_artifacts(run_id, max(pngs), str(tmp))
                cells[(_contender(loss, strategy), f"seed {seed}")] = matplotlib.image.imread(local)
    return cells


def trials_frame(store: MLflowStore, parent_id: str) -> pd.DataFrame:
    """Tuning trial runs (phase ``tune``) under the suite run or under its study runs: one row per trial."""
    studies = store.children(parent_id, "study")
    runs = {r.info.run_id: r for r in store.children(parent_id, "tune")}
    runs.update({r.info.run_id: r for s in studies for r in store.children(s.info.run_id, "tune")})
    rows = []
    for run in runs.values():
        tags = run.data.tags
        number = next((re.search(r"\d+", tags[t]) for t in TRIAL_TAGS if t in tags), None)
        rows.append({
            "dataset": run.data.params.get("dataset"),
            "contender": f"{loss_label(tags, run.data.params)}|{run.data.params.get('strategy', '?')}",
            "trial": int(number.group()) if number else np.nan,
            "start": run.info.start_time,
            "status": tags.get(TAG_STATUS),
            **run.data.metrics,
        })  # fmt: skip
    objective = next((s.data.tags.get(k) or s.data.params.get(k) for s in studies for k in OBJECTIVE_KEYS
                      if s.data.tags.get(k) or s.data.params.get(k)), None)  # fmt: skip
    return pd.DataFrame(rows).assign(objective=objective) if rows else pd.DataFrame()


def budget_series(trials: pd.DataFrame) -> tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]] | None:
    """Best objective value over the trials spent so far, per contender, in trial order. As in ``tuning``, a
    trial counts when it finished, was pruned or diverged (the last two add no value); failed and killed trials
    are retried, so they do not count."""
    objective = trials["objective"].dropna().iloc[0] if trials["objective"].notna().any() else None
    objective = objective or next((c for c in sorted(trials.columns) if c.startswith("fid_")), None)
    if objective is None or objective not in trials:
        return None
    higher = M.is_higher_better(objective)
    series = {}
    counted = trials[trials["status"].isin(DONE_STATUSES)]
    for contender, part in counted.groupby("contender", sort=True):
        part = part.sort_values(["trial", "start"] if part["trial"].notna().all() else ["start"])
        value = part[objective].where(part["status"] == Status.FINISHED)
        best = (value.cummax() if higher else value.cummin()).ffill()
        series[contender] = (np.arange(1, len(part) + 1), best.to_numpy(dtype=float))
    return objective, series


def make_figures(store: MLflowStore, parent_id: str, runs: pd.DataFrame, fig_dir: Path,
                 primary: dict[str, str] | None = None, ranking: Ranking | None = None) -> dict[str, list[Path]]:  # fmt: skip
    """Per dataset: curves over training, the final samples of each contender and seed, the tuning budget; and
    the overall ranking's critical-difference diagram (under ``RANKING_FIGURES``)."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    done = runs[runs["status"].isin(DONE_STATUSES)]
    trials = trials_frame(store, parent_id)
    names = sorted({_contender(a, b) for a, b in zip(runs["loss"], runs["strategy"])}
                   | set(trials.get("contender", [])))  # fmt: skip
    colors = plots.contender_colors(names)
    figures: dict[str, list[Path]] = {}

    def save(dataset: str, kind: str, fig: Any) -> None:
        path = fig_dir / f"{_file_stem(dataset)}_{kind}.png"
        fig.savefig(path)
        figures.setdefault(dataset, []).append(path)

    for dataset, part in done.groupby("dataset", sort=True):
        curves = curve_bands(store, part, (primary or {}).get(str(dataset)))
        if curves:
            save(
                dataset, "curves", plots.curves_figure(curves, colors, f"{dataset}: metrics during training")
            )
        with tempfile.TemporaryDirectory() as tmp:
            cells = last_samples(store, part, Path(tmp))
        if cells:
            rows = sorted({r for r, _ in cells})
            cols = sorted({c for _, c in cells}, key=lambda c: int(c.split()[-1]))
            save(dataset, "samples", plots.mosaic_figure(cells, rows, cols, f"{dataset}: final samples"))
    for dataset, part in trials.groupby("dataset", sort=True) if not trials.empty else []:
        found = budget_series(part)
        if found:
            metric, series = found
            save(dataset, "tuning", plots.budget_figure(series, colors, metric, f"{dataset}: tuning budget"))
    if ranking is not None and len(ranking.mean_ranks) > 1:
        cd = ranking.cd if ranking.tested and ranking.friedman_p < ALPHA else None
        fig = plots.cd_figure(ranking.mean_ranks, joined_matrix(ranking), cd, f"Mean rank, {ranking.scope}")
        path = fig_dir / "cd_diagram.png"
        fig.savefig(path)
        figures[RANKING_FIGURES] = [path]
    return figures
