"""The report's opening lines: per dataset and overall, which contenders are best and how sure that is (which are
practically equivalent to the best, undecided or practically worse, with the tuning's variance included when
the suite ran replicates), then the validity warnings. The same lines open the HTML and Markdown report and
follow the terminal table."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd

import ganbench.report.inference as I
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


def design_text(rows: pd.DataFrame) -> str:
    """``3 replicates × 4 seeds`` (or ``1 replicate × 10 seeds: conditional on one tuning draw``)."""
    replicates = int(rows["replicates"].max())
    seeds = int(round(rows["seeds"].max() / max(replicates, 1)))
    text = f"{replicates} replicate{'s' * (replicates != 1)} × {seeds} seed{'s' * (seeds != 1)}"
    return text + (": conditional on one tuning draw" if replicates == 1 else "")


def dataset_line(
    summary: pd.DataFrame, dataset: str, metric: str, name: Callable[[str, str], str], findings: Sequence[Finding]
) -> str:
    """``ring8 (w1_raw, lower is better; 3 replicates × 4 seeds; ROPE ±0.0145): best r1 0.053 [...] (p_best
    0.62); practically equivalent: ...; undecided: ...; practically worse: the other 6``"""
    rows = primary_rows(summary, dataset, metric)
    direction = "higher" if M.is_higher_better(metric) else "lower"
    if rows.empty or rows["mean"].isna().all():
        return f"{dataset}: no {metric} value to compare"
    rope = rows["rope"].iloc[0]
    where = f"ROPE ±{rope:.3g}" if rope > 0 else "no ROPE: real data always scores the same"
    head = f"{dataset} ({metric}, {direction} is better; {design_text(rows)}; {where})"
    best = rows[rows["best"].astype(bool)]
    top = best.iloc[0]
    line = (
        f"{head}: best {name(top['loss'], top['strategy'])} "
        f"{value_text(top['mean'], top['ci_low'], top['ci_high'])} (95% interval), p_best {top['p_best']:.2f}"
    )
    if len(rows) == 1:
        return line + "; the only contender"
    groups = {
        d: [name(a, b) for a, b, v in zip(rows["loss"], rows["strategy"], rows["vs_best"]) if v == d]
        for d in (I.EQUIVALENT, I.UNDECIDED, I.BETTER, I.WORSE)
    }
    parts = [line]
    if groups[I.EQUIVALENT]:
        parts.append(f"practically equivalent to it: {_listing(groups[I.EQUIVALENT])}")
    if groups[I.UNDECIDED]:
        parts.append(f"undecided (could be equivalent, better or worse): {_listing(groups[I.UNDECIDED])}")
    if groups[I.BETTER]:
        parts.append(f"practically better than it despite a worse mean: {_listing(groups[I.BETTER])}")
    if groups[I.WORSE]:
        n = len(groups[I.WORSE])
        parts.append("practically worse: " + (f"the other {n}" if n == len(rows) - 1 else _listing(groups[I.WORSE])))
    return "; ".join(parts)


def overall_line(ranking: Ranking | None) -> str | None:
    """The overall ranking's verdict: the best mean rank, and the contenders the pairwise decisions do not
    separate from it."""
    if ranking is None or ranking.mean_ranks.empty:
        return None
    order = list(ranking.mean_ranks.index)
    best = f"{order[0]} (mean rank {ranking.mean_ranks.iloc[0]:.2f})"
    label = "Overall" if ranking.scope == "all datasets" else f"Ranking on {ranking.scope}"
    if not ranking.tested:
        return f"{label}: {best}; {len(order)} contender(s) over {ranking.blocks} block(s), no test"
    unit = "dataset × replicate" if ranking.unit == "replicate" else "dataset × seed"
    where = f"{ranking.test} p = {ranking.friedman_p:.2g} over {ranking.blocks} blocks of {unit}"
    joined = [c for c in order[1:] if ranking.joined(order[0], c)]
    behind = [c for c in order[1:] if ranking.ahead.get((order[0], c))]
    text = f"{label} ({where}): lowest mean rank {best}"
    if ranking.friedman_p >= ALPHA:
        text += ", but the mean ranks do not differ significantly"
    if joined:
        text += f"; not separated from it by the pairwise decisions: {_listing(joined)}"
    if behind:
        text += f"; behind it (worse on some dataset, better on none): {_listing(behind)}"
    return text


def tuning_line(summary: pd.DataFrame) -> str | None:
    """Said plainly when the suite ran one replicate: the tuning's variance is not in any verdict."""
    if summary.empty or "replicates" not in summary or summary["replicates"].max() > 1:
        return None
    return f"{UNMEASURED} Run with --replicates 3 (or more) to measure it."


UNMEASURED = (
    "The tuning's variance is unmeasured: one replicate, so every verdict above is conditional on one "
    "tuning draw (a re-tune can reorder contenders)."
)


def headline(
    summary: pd.DataFrame,
    primary: Mapping[str, str],
    ranking: Ranking | None,
    findings: Sequence[Finding],
    name: Callable[[str, str], str],
) -> list[str]:
    """The verdict lines: one per dataset, then the overall ranking's."""
    unlearned = [d for d in sorted(primary) if _not_learned(summary, d, findings, name)]
    lines = [
        dataset_line(summary, d, m, name, findings) + _no_result(d, findings) + (NOT_LEARNED if d in unlearned else "")
        for d, m in sorted(primary.items())
    ]
    overall = overall_line(ranking)
    if overall and unlearned:
        tables = "tables are" if len(unlearned) > 1 else "table is"
        overall += f"; it pools {', '.join(unlearned)}, whose {tables} not a result"
    lines += [x for x in (overall, tuning_line(summary)) if x]
    return lines


NOT_LEARNED = "; NOT A RESULT: no contender learned the data (samples off the modes)"


def _not_learned(
    summary: pd.DataFrame, dataset: str, findings: Sequence[Finding], name: Callable[[str, str], str]
) -> bool:
    """Whether ``dataset``'s table is not a result: the off-modes check named every one of its contenders, so
    none learned the data."""
    off = {c for f in findings if f.kind == "off_modes" and f.dataset == dataset for c in f.contenders}
    part = summary[summary["dataset"] == dataset]
    everyone = {name(loss, strategy) for loss, strategy in zip(part["loss"], part["strategy"])}
    return bool(off) and off >= everyone


def _no_result(dataset: str, findings: Sequence[Finding]) -> str:
    """Contenders with no result on ``dataset`` (every run failed): named in the verdict, never dropped."""
    gone = [
        c
        for f in findings
        if f.kind == "failed" and f.dataset == dataset
        for c in f.contenders
        if f"{c} (all " in f.detail
    ]
    return f"; FAILED, no result: {', '.join(gone)}" if gone else ""


def warning_lines(findings: Sequence[Finding]) -> list[str]:
    return [f.text() for f in findings] or [BELIEVED]
