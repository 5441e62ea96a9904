"""The report's opening lines: per dataset and overall, which contenders are best and how sure that is (tied with
whom per the tests and the critical-difference diagram), then the validity warnings. The same lines open the
HTML and Markdown report and follow the terminal table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from ganbench import metrics as M
from ganbench.report.ranking import ALPHA, Ranking
from ganbench.report.validity import Finding

BELIEVED = "No validity warnings: the harness believes these tables."


def _listing(names: Sequence[str], most: int = 6) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def primary_rows(summary: pd.DataFrame, dataset: str, metric: str) -> pd.DataFrame:
    """The summary rows of one dataset's primary metric, best first."""
    if summary.empty:
        return summary
    rows = summary[(summary["dataset"] == dataset) & (summary["metric"] == metric)]
    return rows.sort_values(["rank", "loss", "strategy"], na_position="last")


def value_text(mean: float, low: float, high: float) -> str:
    if pd.isna(mean):
        return "n/a"
    return f"{mean:.3g}" if pd.isna(low) else f"{mean:.3g} [{low:.3g}, {high:.3g}]"


def dataset_line(summary: pd.DataFrame, dataset: str, metric: str, name: Callable[[str, str], str],
                 findings: Sequence[Finding]) -> str:  # fmt: skip
    """``ring8 (w1_raw, lower is better, 10 seeds): best hinge 0.012 [...]; not distinguishable from it: ...``"""
    rows = primary_rows(summary, dataset, metric)
    direction = "higher" if M.is_higher_better(metric) else "lower"
    if rows.empty or rows["mean"].isna().all():
        return f"{dataset}: no {metric} value to compare"
    seeds = int(rows["seeds"].max())
    head = f"{dataset} ({metric}, {direction} is better, {seeds} seed{'s' * (seeds != 1)})"
    best = rows[rows["best"].astype(bool)]
    bests = [name(a, b) for a, b in zip(best["loss"], best["strategy"])]
    top = best.iloc[0]
    line = (
        f"{head}: best {' = '.join(bests)} {value_text(top['mean'], top['ci_low'], top['ci_high'])} (95% CI)"
    )
    if len(rows) == 1:
        return line + "; the only contender"
    tied = rows[rows["tied"].astype(bool) & ~rows["best"].astype(bool)]
    tied_names = [name(a, b) for a, b in zip(tied["loss"], tied["strategy"])]
    others = len(rows) - len(best) - len(tied)
    if any(f.kind == "too_few_seeds" and f.dataset == dataset for f in findings):
        n = len(rows) - len(best)
        return (
            line
            + f"; too few seeds to tell it apart from {'the other' if n == 1 else f'any of the {n} others'}"
        )
    if tied_names:
        line += f"; not distinguishable from it (Holm p ≥ {ALPHA}): {_listing(tied_names)}"
    return line + (f"; better than the other {others}" if others else "")


def overall_line(ranking: Ranking | None) -> str | None:
    """The overall ranking's verdict: the best mean rank, and the contenders in its group."""
    if ranking is None or ranking.mean_ranks.empty:
        return None
    order = list(ranking.mean_ranks.index)
    best = f"{order[0]} (mean rank {ranking.mean_ranks.iloc[0]:.2f})"
    label = "Overall" if ranking.scope == "all datasets" else f"Ranking over {ranking.scope}"
    if not ranking.tested:
        return f"{label}: {best}; {len(order)} contender(s) over {ranking.blocks} block(s), no test"
    where = f"{ranking.test} p = {ranking.friedman_p:.2g} over {ranking.blocks} blocks"
    if ranking.friedman_p >= ALPHA:
        return f"{label} ({where}): lowest mean rank {best}, but no contender can be told apart from another"
    group = [c for c in ranking.best_group() if c != order[0]]
    tie = (
        f"; joined with it in the CD diagram (Nemenyi CD {ranking.cd:.2f}): {_listing(group)}"
        if group
        else ""
    )
    rest = len(order) - 1 - len(group)
    return f"{label} ({where}): best {best}{tie}" + (f"; ahead of the other {rest}" if rest else "")


def headline(summary: pd.DataFrame, primary: Mapping[str, str], ranking: Ranking | None,
             findings: Sequence[Finding], name: Callable[[str, str], str]) -> list[str]:  # fmt: skip
    """The verdict lines: one per dataset, then the overall ranking's."""
    lines = [
        dataset_line(summary, d, m, name, findings) + _no_result(d, findings)
        for d, m in sorted(primary.items())
    ]
    overall = overall_line(ranking)
    return lines + ([overall] if overall else [])


def _no_result(dataset: str, findings: Sequence[Finding]) -> str:
    """Contenders with no result on ``dataset`` (every run failed): named in the verdict, never dropped."""
    gone = [c for f in findings if f.kind == "failed" and f.dataset == dataset for c in f.contenders
            if f"{c} (all " in f.detail]  # fmt: skip
    return f"; FAILED, no result: {', '.join(gone)}" if gone else ""


def warning_lines(findings: Sequence[Finding]) -> list[str]:
    return [f.text() for f in findings] or [BELIEVED]
