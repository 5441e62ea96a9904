"""The tuning report: a table per dataset of each study's best setting and trial counts, and the budget plot
(best objective vs trials spent, Lucic et al. 2018), read back from the study runs in MLflow alone."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganbench import metrics as M
from ganbench.report.tables import Section
from ganbench.strategies import tied_rates
from ganbench.tracking import TAG_CONTENDER, TAG_REPLICATE, MLflowStore
from ganbench.tuning.records import COUNTS, TRIALS_ARTIFACT

if TYPE_CHECKING:
    import pandas as pd


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
    replicate: int = 0
    trials: list[dict[str, Any]] = field(default_factory=list)  # the study's counted trials (TRIALS_ARTIFACT)
    compute: float = math.nan  # GFLOP the study's trials spent


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
        replicate = int(run.data.tags.get(TAG_REPLICATE, 0))
        text = store.read_text(run.info.run_id, TRIALS_ARTIFACT)
        trials = json.loads(text) if text else []
        compute = m.get("tuning_compute_gflop", math.nan)
        out.append(
            StudySummary(
                dataset,
                loss,
                strategy,
                objective,
                best_value,
                best,
                counts,
                curve,
                space,
                search,
                replicate,
                trials,
                compute,
            )
        )
    return sorted(out, key=lambda s: (s.dataset, s.loss, s.strategy, s.replicate))


PARAMS = ("lr_g", "lr_d", "beta1", "n_critic")  # the strategy's searchable parameters, in table order


def tuning_table(summaries: Sequence[StudySummary]) -> pd.DataFrame:
    """One row per study (contender and replicate): the best setting and value, how the trials ended and the
    GFLOP they spent. A parameter no study searched has no column; loss parameters (r1's gamma ...) follow."""
    import pandas as pd

    searched = [k for k in PARAMS if any(k in o.best for o in summaries)]
    searched += sorted({k for o in summaries for k in o.best if k not in PARAMS and k != "lr"})
    rows = []
    for s in summaries:
        row: dict[str, Any] = {
            "dataset": s.dataset,
            "loss": s.loss,
            "strategy": s.strategy,
            "replicate": s.replicate,
            "objective": s.objective,
            "best_value": s.best_value,
        }
        row.update({k: s.best.get(k, math.nan) for k in searched})
        row.update(s.counts)
        row["GFLOP"] = s.compute
        rows.append(row)
    return pd.DataFrame(rows)


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """The tuning table as text, one format per column: learning rates as 2.05e-4, D steps whole, values and
    loss parameters to three significant digits, counts whole; blank where a study searched nothing."""

    def sci(v: float) -> str:
        mantissa, exponent = f"{v:.2e}".split("e")
        return f"{mantissa}e{int(exponent)}"

    out = table.astype(object)
    for column in table.columns:
        values = table[column]
        if column in ("lr_g", "lr_d"):
            fmt = sci
        elif column in ("n_critic", "replicate", "GFLOP", *COUNTS):
            fmt = "{:.0f}".format
        elif values.dtype.kind == "f":
            fmt = "{:.3g}".format
        else:
            continue
        out[column] = [fmt(v) if isinstance(v, (int, float)) and v == v else "" for v in values]
    return out


def budget_figure(summaries: Sequence[StudySummary], dataset: str) -> Any:
    """The expected best objective against the tuning budget, in trials and in GFLOP, one line per contender
    (:mod:`ganbench.report.budget`)."""
    from ganbench.report.budget import budget_curves, compute_matched
    from ganbench.report.diagrams import budget_figure as draw
    from ganbench.report.plots import contender_colors

    curves = budget_curves(summaries, dataset)
    one_strategy = len({s.strategy for s in summaries}) == 1
    curves["name"] = [a if one_strategy else f"{a} / {b}" for a, b in zip(curves["loss"], curves["strategy"])]
    objective = next((s.objective for s in summaries if s.dataset == dataset), "objective")
    matched = compute_matched(summaries, dataset)
    trials = float(matched["trials"].max()) if not matched.empty else None
    compute = float(matched["compute_budget"].iloc[0]) if not matched.empty else None
    names = list(dict.fromkeys(curves["name"]))
    replicates = len({s.replicate for s in summaries if s.dataset == dataset})
    pooled = f", trials of {replicates} replicates pooled" if replicates > 1 else ""
    return draw(
        curves,
        contender_colors(names),
        objective,
        f"{dataset}: expected best {objective} vs tuning budget{pooled}",
        trials,
        compute,
    )


def dataset_tables(summaries: Sequence[StudySummary]) -> list[tuple[str, pd.DataFrame]]:
    """The tuning table split per dataset, as text, without the dataset column and without columns no study
    filled (the replicate column only when there are several)."""
    table = tuning_table(summaries)
    if table["replicate"].nunique() <= 1:
        table = table.drop(columns=["replicate"])
    return [
        (str(d), formatted(part.drop(columns=["dataset"]).dropna(axis=1, how="all")))
        for d, part in table.groupby("dataset", sort=False)
    ]


def table_markdown(shown: pd.DataFrame) -> str:
    return shown.to_markdown(index=False)


def write_tuning_report(
    store: MLflowStore, parent: str, out_dir: Path, summaries: Sequence[StudySummary] | None = None
) -> dict[str, Path]:
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


def tuning_section(
    summaries: Sequence[StudySummary],
    runs: pd.DataFrame | None = None,
    primary: dict[str, str] | None = None,
    name: Any = None,
) -> Section | None:
    """The report's "Tuning" section, after the per-dataset tables: per dataset, the search spaces, the budget
    figure's numbers (expected best at equal trials and at equal compute), the rank of every contender in every
    replicate (rank stability), the pruning check, and each study's best setting."""
    import html

    from ganbench.report.budget import compute_matched, pruning_check
    from ganbench.report.ranking import replicate_ranks

    if not summaries:
        return None
    md, body = [TUNING_NOTE, ""], [f'<p class="method">{html.escape(TUNING_NOTE)}</p>']
    spaces = sorted({(s.loss, s.search) for s in summaries if s.search})
    if spaces:
        md += ["Search spaces:", "", *(f"- {loss}: {space}" for loss, space in spaces), ""]
        body.append("<ul>" + "".join(f"<li>{html.escape(f'{a}: {b}')}</li>" for a, b in spaces) + "</ul>")
    check = pruning_check(summaries)
    for dataset, shown in dataset_tables(summaries):
        parts: list[tuple[str, pd.DataFrame]] = []
        matched = compute_matched(summaries, dataset)
        if not matched.empty:
            parts.append((MATCHED_NOTE, _text(matched.drop(columns=["compute_budget"]))))
        if runs is not None and primary and dataset in primary and runs["replicate"].nunique() > 1:
            ranks = replicate_ranks(runs, dataset, primary[dataset], name)
            parts.append((STABILITY_NOTE, ranks.reset_index(names="contender").astype(str)))
        mine = check[check["dataset"] == dataset]
        if not mine.empty:
            parts.append((PRUNING_NOTE, _text(mine.drop(columns=["dataset"]))))
        parts.append(("Each study's best setting, trials and compute:", shown))
        md += [f"### {dataset}", ""]
        body.append(f"<h3>{html.escape(dataset)}</h3>")
        for note, table in parts:
            md += [note, "", table.to_markdown(index=False), ""]
            styled = table.style.hide(axis="index")
            body += [f'<p class="method">{html.escape(note)}</p>', f'<div class="scroll">{styled.to_html()}</div>']
    return Section("Tuning", "\n".join(md), "\n".join(body), after_datasets=True)


def _text(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers to three significant digits (ranks and counts whole), as text."""
    out = table.astype(object)
    for column in table.columns:
        if table[column].dtype.kind in "fi":
            whole = column.startswith(("rank", "pairs", "concordant", "rung")) or column == "trials"
            out[column] = [("" if v != v else f"{v:.0f}" if whole else f"{v:.3g}") for v in table[column]]
    return out


TUNING_NOTE = (
    "Every contender had the same tuning budget in every replicate, whatever the size of its search space. A "
    "strategy fixes what it does not search; the best setting of each replicate is what that replicate's seeds "
    "trained with."
)
MATCHED_NOTE = (
    "Expected best tuning objective (Dodge et al. 2019, trials of all replicates pooled): at the suite's trials "
    "per replicate (equal trials) and at the GFLOP the cheapest contender's trials cost (equal compute: a trial "
    "with 5 D steps and a penalty costs several of one with 1 D step). A diverged or pruned trial counts as the "
    "worst of its pool, so a contender with a large diverged_share ranks low here even when its best settings "
    "train well: this view measures how easily a loss is tuned, the tables above what its tuned runs reach."
)
STABILITY_NOTE = "Rank stability: each contender's rank in each replicate, by its mean over that replicate's seeds."
PRUNING_NOTE = (
    "Pruning check: over pairs of trials of one study that both ran to the end, how many were ordered at the rung "
    "as at the end, and Kendall's tau (a warning below 0.5)."
)
