"""What a comparison of optimizer strategies is asked: does TTUR beat one tied learning rate, does an EMA of the
generator help, does searching beta1 or more D steps help, and does the best strategy depend on the loss.

Two strategies answer a question when they differ in exactly one respect (:func:`strategy_pairs`), read from
the registered strategies, so a plugin's strategies get the same questions. Each question is asked per loss
and dataset with the report's one rule (:mod:`ganbench.report.inference`): the paired difference of the primary
metric (oriented so that > 0 means the strategy *with* the feature did better), over replicates when the suite
ran several, else over seeds; its 95 % interval; and the decision with the dataset's region of practical
equivalence, which is where that interval lies against the ROPE: better, worse, equivalent or undecided.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import ganbench.report.inference as I
from ganbench import metrics as M
from ganbench.report.stats import unit_values
from ganbench.report.tables import Section
from ganbench.report.writers import CSS, MD, _marked
from ganbench.status import DONE_VALUES

BETTER, WORSE, SAME, EQUAL = "better", "worse", "undecided", "equivalent"


@dataclass(frozen=True)
class Effect:
    """One question on one (dataset, loss): strategy ``a`` (with the feature) against ``b`` (without)."""

    question: str
    dataset: str
    loss: str
    a: str
    b: str
    metric: str
    diff: float  # mean over units of the paired difference, > 0: ``a`` better
    low: float  # its 95 % interval: the decision is where it lies against +-rope
    high: float
    units: int
    unit: str  # replicate or seed
    rope: float
    verdict: str  # better, worse, equivalent or undecided: ``a`` (with the feature) against ``b``


def _aspects(name: str) -> dict[str, Any] | None:
    from ganbench.strategies import get_strategy

    try:
        s = get_strategy(name)
    except Exception:  # a plugin strategy not loaded while the report is rebuilt: no question about it
        return None
    if s.search is None:
        return None  # a preset whose space the suite decides: not one respect apart from anything
    searched = set(s.search)
    adam = s.optimizer == "adam"
    return {
        "optimizer": s.optimizer,
        "betas": ("searched" if "beta1" in searched else s.beta1, s.beta2) if adam else None,
        "n_critic": "searched" if "n_critic" in searched else s.n_critic,
        "ema": s.ema is not None,
        "tied": "lr" in searched,
    }


def _question(x: dict[str, Any], y: dict[str, Any]) -> tuple[str, bool] | None:
    """The question two strategies answer, and whether ``x`` is the one with the feature; None if they differ in
    more than one respect (or none). Optimizers differ together with their betas."""
    differ = [k for k in x if x[k] != y[k] and not (k == "betas" and x["optimizer"] != y["optimizer"])]
    if len(differ) != 1:
        return None
    k = differ[0]
    if k == "ema":
        return "EMA of G vs none", x["ema"]
    if k == "tied":
        return "TTUR (separate lr_g, lr_d) vs one tied lr", not x["tied"]
    if k == "optimizer":
        return "RMSprop vs Adam", x["optimizer"] == "rmsprop"
    if k == "betas" and "searched" in (x["betas"][0], y["betas"][0]) and x["betas"][1] == y["betas"][1]:
        return "beta1 searched vs fixed", x["betas"][0] == "searched"
    if k == "n_critic" and "searched" not in (x["n_critic"], y["n_critic"]):
        high, low = sorted((x["n_critic"], y["n_critic"]), reverse=True)
        return f"{high} D steps vs {low}", x["n_critic"] == high
    if k == "n_critic":
        return "D steps searched vs fixed", x["n_critic"] == "searched"
    return None


def strategy_pairs(strategies: Iterable[str]) -> list[tuple[str, str, str]]:
    """``(question, with, without)`` for every two strategies that differ in exactly one respect."""
    names = sorted(set(strategies))
    aspects = {n: _aspects(n) for n in names}
    out = []
    for i, x in enumerate(names):
        for y in names[i + 1 :]:
            if aspects[x] is None or aspects[y] is None:
                continue
            found = _question(aspects[x], aspects[y])
            if found:
                question, x_has = found
                out.append((question, x, y) if x_has else (question, y, x))
    return sorted(out)


def effects(
    runs: pd.DataFrame, primary: dict[str, str], ropes: dict[tuple[str, str], float] | None = None
) -> list[Effect]:
    """Every question on every (dataset, loss) that ran both strategies."""
    done = runs[runs["status"].isin(DONE_VALUES)]
    out: list[Effect] = []
    decisions = {I.BETTER: WORSE, I.WORSE: BETTER, I.EQUIVALENT: EQUAL, I.UNDECIDED: SAME}  # b's side -> a's
    for question, a, b in strategy_pairs(done["strategy"].unique()):
        for (dataset, loss), part in done.groupby(["dataset", "loss"], sort=True):
            metric = primary.get(str(dataset))
            if metric is None or metric not in part or not {a, b} <= set(part["strategy"]):
                continue
            facing = I.oriented(unit_values(part, metric, [(loss, a), (loss, b)]), M.is_higher_better(metric))
            rope = (ropes or {}).get((str(dataset), metric), 0.0)
            pair = I.compare(facing[1], facing[0], rope)  # b against a: "worse" means a did better
            low, high = I.difference_interval(facing[1], facing[0])
            if pair.units < 2:
                continue
            out.append(
                Effect(
                    question,
                    str(dataset),
                    str(loss),
                    a,
                    b,
                    metric,
                    pair.difference,
                    low,
                    high,
                    pair.units,
                    pair.unit,
                    rope,
                    decisions[pair.decision],
                )
            )
    return out


def answer_lines(found: list[Effect]) -> list[str]:
    """One line per question: in how many (loss, dataset) cells the feature did better, worse, or no
    detectably different."""
    lines = []
    for question in dict.fromkeys(e.question for e in found):
        cells = [e for e in found if e.question == question]
        count = {v: sum(e.verdict == v for e in cells) for v in (BETTER, WORSE, EQUAL, SAME)}
        where = [f"{e.loss}/{e.dataset} {e.verdict}" for e in cells if e.verdict in (BETTER, WORSE)]
        pairs = sorted({f"{e.a} vs {e.b}" for e in cells})
        lines.append(
            f"{question} ({'; '.join(pairs)}): practically better in {count[BETTER]}, worse in "
            f"{count[WORSE]}, equivalent in {count[EQUAL]}, undecided in {count[SAME]} of {len(cells)} "
            "(loss, dataset) cells" + (f" ({', '.join(where)})" if where else "")
        )
    return lines


def best_by_loss(
    runs: pd.DataFrame, primary: dict[str, str], ropes: dict[tuple[str, str], float] | None = None
) -> pd.DataFrame:
    """Per dataset and loss: the strategy with the best mean primary metric, and the strategies not decided
    practically worse than it (equivalent or undecided), by the report's one rule."""
    done = runs[runs["status"].isin(DONE_VALUES)]
    rows = []
    for (dataset, loss), part in done.groupby(["dataset", "loss"], sort=True):
        metric = primary.get(str(dataset))
        if metric is None or part["strategy"].nunique() < 2:
            continue
        keys = [(loss, s) for s in sorted(part["strategy"].unique())]
        facing = I.oriented(unit_values(part, metric, keys), M.is_higher_better(metric))
        means = np.nanmean(I.unit_values(facing), axis=1)
        if not np.isfinite(means).any():
            continue
        best = int(np.nanargmin(means))
        rope = (ropes or {}).get((str(dataset), metric), 0.0)
        tied = [
            keys[c][1]
            for c in range(len(keys))
            if c == best or I.compare(facing[c], facing[best], rope).decision != I.WORSE
        ]
        rows.append({"dataset": dataset, "loss": loss, "best": keys[best][1], "tied": tuple(sorted(tied))})
    return pd.DataFrame(rows)


def depends_lines(best: pd.DataFrame) -> list[str]:
    """Per dataset: does the best strategy depend on the loss? No when one strategy is best or tied-best for
    every loss; yes when no strategy is."""
    lines = []
    for dataset, part in best.groupby("dataset", sort=True):
        if len(part) < 2:
            continue
        common = set.intersection(*(set(t) for t in part["tied"]))
        everyone = set.union(*(set(t) for t in part["tied"]))
        bests = ", ".join(f"{r.loss}: {r.best}" for r in part.itertuples())
        if common and all(len(t) == len(everyone) for t in part["tied"]) and len(everyone) > 1:
            lines.append(
                f"{dataset}: no strategy is practically worse than the best for any loss, so whether the "
                f"best depends on the loss cannot be answered (best means: {bests})"
            )
        elif common:
            names = sorted(common)
            verb = "is" if len(names) == 1 else "are each"
            lines.append(
                f"{dataset}: the best strategy does not detectably depend on the loss: "
                f"{', '.join(names)} {verb} best or not practically worse for every loss (best means: "
                f"{bests})"
            )
        else:
            lines.append(
                f"{dataset}: the best strategy depends on the loss: for every strategy some loss finds "
                f"another practically better (best means: {bests})"
            )
    return lines


def loss_by_strategy(
    summary: pd.DataFrame, dataset: str, metric: str, best: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The primary metric as a loss x strategy table: ``mean [CI]`` cells, and per loss (row) the marks
    ``best`` / ``tied`` among its strategies."""
    part = summary[(summary["dataset"] == dataset) & (summary["metric"] == metric)]
    text = [
        f"{m:.3g} [{lo:.3g}, {hi:.3g}]" if pd.notna(lo) else f"{m:.3g}"
        for m, lo, hi in zip(part["mean"], part["ci_low"], part["ci_high"])
    ]
    cells = part.assign(cell=text).pivot(index="loss", columns="strategy", values="cell").fillna("")
    marks = cells.map(lambda _: "")
    for r in best[best["dataset"] == dataset].itertuples():
        for s in r.tied:
            if r.loss in marks.index and s in marks.columns:
                marks.at[r.loss, s] = "best" if s == r.best else "tied"
    return cells, marks


def strategy_section(
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    primary: dict[str, str],
    ropes: dict[tuple[str, str], float] | None = None,
) -> Section | None:
    """The report's "Strategies" section, when the suite compares more than one strategy on some loss."""
    if runs["strategy"].nunique() < 2 or summary.empty:
        return None
    found, best = effects(runs, primary, ropes), best_by_loss(runs, primary, ropes)
    lines = answer_lines(found) + (depends_lines(best) if not best.empty else [])
    md = [STRATEGY_NOTE, "", *(f"- {line}" for line in lines), ""]
    body = [
        f'<p class="method">{html.escape(md[0])}</p>',
        "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>",
    ]
    for dataset, metric in primary.items():
        cells, marks = loss_by_strategy(summary, dataset, metric, best if not best.empty else _no_best())
        if cells.empty:
            continue
        caption = (
            f"{dataset}: {metric} by loss and strategy, mean [95% interval]; per loss, bold = best, italic = "
            "not practically worse than it"
        )
        md += [f"### {caption}", "", _marked(cells, marks, MD).reset_index().to_markdown(index=False), ""]
        styled = cells.style.apply(lambda _, m=marks: m.map(lambda x: CSS.get(x, "")), axis=None)
        body += [f"<h3>{html.escape(caption)}</h3>", f'<div class="scroll">{styled.to_html()}</div>']
    if found:
        table = effects_table(found)
        md += ["### Paired effects", "", table.to_markdown(index=False), ""]
        body += ["<h3>Paired effects</h3>", table.style.hide(axis="index").to_html()]
    return Section("Strategies", "\n".join(md), "\n".join(body), tuple(lines))


def _no_best() -> pd.DataFrame:
    return pd.DataFrame(columns=["dataset", "loss", "best", "tied"])


def effects_table(found: list[Effect]) -> pd.DataFrame:
    """The paired effects as text: the difference and its 95 % interval beside the ROPE they are judged by."""
    return pd.DataFrame(
        [
            {
                "question": e.question,
                "dataset": e.dataset,
                "loss": e.loss,
                "with": e.a,
                "without": e.b,
                "metric": e.metric,
                "difference [95% interval]": f"{e.diff:.3g} [{e.low:.3g}, {e.high:.3g}]",
                "ROPE": f"±{e.rope:.3g}",
                "units": f"{e.units} {e.unit}s",
                "verdict": e.verdict,
            }
            for e in found
        ]
    )


STRATEGY_NOTE = (
    "Paired effects: > 0 means the strategy with the feature did better. Each is judged by the report's one rule: "
    "practically better or worse when the difference's 95 % interval lies beyond the ROPE (the metric's spread on "
    "real data), equivalent when it lies inside, undecided when it crosses an edge."
)
