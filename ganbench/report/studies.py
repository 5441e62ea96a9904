"""The tuning report: a table per dataset of each study's best setting and trial counts, and the budget plot
(best objective vs trials spent, Lucic et al. 2018), read back from the study runs in MLflow alone."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganbench import metrics as M
from ganbench.report.tables import Section
from ganbench.status import Status
from ganbench.strategies import tied_rates
from ganbench.tracking import TAG_CONTENDER, MLflowStore

if TYPE_CHECKING:
    import pandas as pd

COUNTS = (
    Status.FINISHED,
    Status.PRUNED,
    Status.DIVERGED,
    Status.FAILED,
)  # how a study's counted trials ended


@dataclass(frozen=True)
class StudySummary:
    """What the tuning report shows of one study, read back from its MLflow study run."""

    dataset: str
    loss: str
    strategy: str
    objective: str
    best_value: float
    best: dict[str, float]
    counts: dict[str, int]
    curve: list[tuple[int, float]]  # (counted trials so far, best value so far)
    space: dict[str, str] = field(default_factory=dict)  # the suite's tuning section as logged (lr_min, ...)
    # what the tuner searched for this contender and what stayed fixed (strategies.describe_search)
    search: str = ""


def study_summaries(store: MLflowStore, parent: str) -> list[StudySummary]:
    """The suite's study runs, as the report needs them (so it can be rebuilt from the store alone)."""
    out = []
    for run in store.children(parent, "study"):
        p, m = run.data.params, run.data.metrics
        loss, strategy, dataset = run.data.tags.get(TAG_CONTENDER, "||").rsplit("|", 2)
        objective = p.get("objective", "")
        best = {k.removeprefix("best."): float(v) for k, v in p.items() if k.startswith("best.")}
        counts = {k: int(m.get(f"trials_{k}", 0)) for k in COUNTS}
        curve = store.history(run.info.run_id, "best_so_far")
        best_value = m.get(M.best_key(objective), math.nan)
        space = {k.removeprefix("tuning."): v for k, v in p.items() if k.startswith("tuning.")}
        best, search = tied_rates(best), p.get("search_space", "")
        out.append(
            StudySummary(dataset, loss, strategy, objective, best_value, best, counts, curve, space, search)
        )
    return sorted(out, key=lambda s: (s.dataset, s.loss, s.strategy))


def tuning_table(summaries: Sequence[StudySummary]) -> pd.DataFrame:
    """One row per study: best setting and value, and how many trials finished, were pruned, diverged, failed."""
    import pandas as pd

    rows = []
    for s in summaries:
        row: dict[str, Any] = {
            "dataset": s.dataset,
            "loss": s.loss,
            "strategy": s.strategy,
            "objective": s.objective,
        }
        row["best_value"] = s.best_value
        for k in ("lr_g", "lr_d", "beta1", "n_critic"):
            if k in s.best or any(k in o.best for o in summaries):
                row[k] = s.best.get(k, math.nan)
        row.update(s.counts)
        if any(o.search for o in summaries):
            row["search space"] = s.search
        rows.append(row)
    return pd.DataFrame(rows)


def budget_figure(summaries: Sequence[StudySummary], dataset: str) -> Any:
    """Best objective reached vs trials spent, one line per contender (the budget plot of Lucic et al.)."""
    from ganbench.report.plots import budget_figure as draw
    from ganbench.report.plots import contender_colors

    one_strategy = len({s.strategy for s in summaries}) == 1
    series = {
        (s.loss if one_strategy else f"{s.loss} / {s.strategy}"): tuple(map(list, zip(*s.curve)))
        for s in summaries
        if s.dataset == dataset and s.curve
    }
    objective = next((s.objective for s in summaries if s.dataset == dataset), "objective")
    fig = draw(
        series, contender_colors(list(series)), objective, f"{dataset}: best {objective} vs tuning budget"
    )
    ax = fig.axes[0]
    if ax.lines and all(y > 0 for line in ax.lines for y in line.get_ydata()):
        ax.set_yscale("log")  # FIDs of a wide search span orders of magnitude
    return fig


def dataset_tables(summaries: Sequence[StudySummary]) -> list[tuple[str, pd.DataFrame]]:
    """The tuning table split per dataset, without the dataset column and without columns no study filled."""
    table = tuning_table(summaries)
    return [(str(d), part.drop(columns=["dataset"]).dropna(axis=1, how="all"))
            for d, part in table.groupby("dataset", sort=False)]  # fmt: skip


def table_markdown(shown: pd.DataFrame) -> str:
    """A per-dataset tuning table as Markdown; a parameter not searched is blank (its value is in the search
    space column)."""
    return shown.astype(object).where(shown.notna(), "").to_markdown(index=False, floatfmt=".4g")


def write_tuning_report(store: MLflowStore, parent: str, out_dir: Path,
                        summaries: Sequence[StudySummary] | None = None) -> dict[str, Path]:  # fmt: skip
    """``tuning.csv``, ``tuning.md`` (a table per dataset) and the budget plot of each dataset,
    ``figures/<dataset>_tuning.png`` (the report embeds the same file); also logged to the suite run under
    ``report/``. Returns the budget plots by dataset. ``summaries``: the study summaries, if already read."""
    from ganbench.report.plots import plt
    from ganbench.report.writers import _file_stem

    summaries = study_summaries(store, parent) if summaries is None else summaries
    if not summaries:
        return {}
    (out_dir / "figures").mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "tuning.csv", out_dir / "tuning.md"]
    tuning_table(summaries).to_csv(paths[0], index=False)
    sections, figures = [], {}
    for dataset, shown in dataset_tables(summaries):
        sections.append(f"## {dataset}\n\n{table_markdown(shown)}\n")
        fig = budget_figure(summaries, dataset)
        figures[dataset] = out_dir / "figures" / f"{_file_stem(dataset)}_tuning.png"
        fig.savefig(figures[dataset])
        plt.close(fig)
    paths[1].write_text("\n".join(sections))
    for path in paths:
        store.log_artifact(parent, path, "report")
    for path in figures.values():
        store.log_artifact(parent, path, "report/figures")
    return figures


def tuning_section(summaries: Sequence[StudySummary]) -> Section | None:
    """The report's "Tuning" section, after the per-dataset tables: per dataset, each contender's search space,
    best setting and trials."""
    import html

    if not summaries:
        return None
    md, body = [TUNING_NOTE, ""], [f'<p class="method">{html.escape(TUNING_NOTE)}</p>']
    for dataset, shown in dataset_tables(summaries):
        md += [f"### {dataset}", "", table_markdown(shown), ""]
        styled = shown.style.hide(axis="index").format(precision=4, na_rep="")
        body += [f"<h3>{html.escape(dataset)}</h3>", f'<div class="scroll">{styled.to_html()}</div>']
    return Section("Tuning", "\n".join(md), "\n".join(body), after_datasets=True)


TUNING_NOTE = (
    "Every contender had the same number of trials, whatever the size of its search space. A strategy fixes "
    "what it does not search (the search space column); the best setting is what its seeds trained with."
)
