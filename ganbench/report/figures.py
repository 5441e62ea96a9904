"""The report's figures, read from the store and drawn by :mod:`ganbench.report.plots`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

import ganbench.report.plots as plots
from ganbench import metrics as M
from ganbench.report.diagrams import cd_figure
from ganbench.report.frame import metric_columns
from ganbench.report.ranking import Ranking, joined_matrix
from ganbench.report.writers import MAX_SAMPLE_SEEDS, RANKING_FIGURES, _file_stem
from ganbench.status import DONE_VALUES
from ganbench.tracking import MLflowStore


def _contender(loss: str, strategy: str) -> str:
    return f"{loss}|{strategy}"


def curve_bands(store: MLflowStore, runs: pd.DataFrame, primary: str | None = None) -> dict[str, dict[str, plots.Band]]:
    """Per curve metric (and the primary metric, first) and contender: each seed's metric history (one value per
    step; NaN at a step a seed has no value for)."""
    metrics = [c for c in metric_columns(runs) if (M.in_curves(c) or c == primary) and runs[c].notna().any()]
    metrics.sort(key=lambda c: c != primary)
    out: dict[str, dict[str, plots.Band]] = {}
    for metric in metrics:
        for (loss, strategy), part in runs.groupby(["loss", "strategy"], sort=True):
            seeds = {run_id: dict(store.history(run_id, metric)) for run_id in part["run_id"]}
            by_step = pd.DataFrame(seeds).sort_index()
            if by_step.empty:
                continue
            band = plots.Band(by_step.index.to_numpy(float), by_step.to_numpy(float).T)  # rows: seeds
            out.setdefault(metric, {})[_contender(loss, strategy)] = band
    return out


def last_samples(store: MLflowStore, runs: pd.DataFrame, tmp: Path) -> dict[tuple[str, str], Any]:
    """The last ``samples/step_*.png`` artifact of each run (first seeds only), keyed (contender, seed)."""
    import matplotlib.image

    cells = {}
    replicated = "replicate" in runs and runs["replicate"].nunique() > 1
    for (loss, strategy), part in runs.groupby(["loss", "strategy"], sort=True):
        part = part.sort_values("seed").head(MAX_SAMPLE_SEEDS)
        reps = part["replicate"] if replicated else [None] * len(part)
        for run_id, seed, rep in zip(part["run_id"], part["seed"], reps):
            pngs = [a.path for a in store.client.list_artifacts(run_id, "samples") if a.path.endswith(".png")]
            if pngs:
                local = store.client.download_artifacts(run_id, max(pngs), str(tmp))
                # a column's replicate is named: its seeds share a tuning draw, which a reader must see
                label = f"seed {seed}" if rep is None else f"replicate {int(rep)}, seed {seed}"
                cells[(_contender(loss, strategy), label)] = matplotlib.image.imread(local)
    return cells


def make_figures(
    store: MLflowStore,
    parent_id: str,
    runs: pd.DataFrame,
    fig_dir: Path,
    primary: dict[str, str] | None = None,
    ranking: Ranking | None = None,
    tuning: dict[str, Path] | None = None,
) -> dict[str, list[Path]]:
    """Per dataset: curves over training, the final samples of each contender and seed, and the tuning budget
    (``tuning``: drawn by the tuning report); and the overall ranking's critical-difference diagram (under
    ``RANKING_FIGURES``)."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    done = runs[runs["status"].isin(DONE_VALUES)]
    colors = plots.contender_colors(sorted({_contender(a, b) for a, b in zip(runs["loss"], runs["strategy"])}))
    figures: dict[str, list[Path]] = {}

    def save(dataset: str, kind: str, fig: Any) -> None:
        path = fig_dir / f"{_file_stem(dataset)}_{kind}.png"
        fig.savefig(path)
        figures.setdefault(dataset, []).append(path)

    for dataset, part in done.groupby("dataset", sort=True):
        curves = curve_bands(store, part, (primary or {}).get(str(dataset)))
        if curves:
            save(dataset, "curves", plots.curves_figure(curves, colors, f"{dataset}: metrics during training"))
        with tempfile.TemporaryDirectory() as tmp:
            cells = last_samples(store, part, Path(tmp))
        if cells:
            rows = sorted({r for r, _ in cells})
            cols = sorted({c for _, c in cells}, key=lambda c: int(c.split()[-1]))
            save(dataset, "samples", plots.mosaic_figure(cells, rows, cols, f"{dataset}: final samples"))
    for dataset, path in sorted((tuning or {}).items()):
        figures.setdefault(dataset, []).append(path)
    if ranking is not None and len(ranking.mean_ranks) > 1:
        fig = cd_figure(ranking.mean_ranks, joined_matrix(ranking), f"Mean rank, {ranking.scope}")
        path = fig_dir / "cd_diagram.png"
        fig.savefig(path)
        figures[RANKING_FIGURES] = [path]
    return figures
