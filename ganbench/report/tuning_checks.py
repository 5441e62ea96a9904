"""The validity checks on the tuning studies (``search_edge``, ``tuning_budget``, ``pruning``, ``recipe_outside``):
whether each contender was tuned as well as its search space and budget promise. Their thresholds and why are
in :mod:`ganbench.report.validity`, beside the checks on the trained runs."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from ganbench.report.checks import Finding, check
from ganbench.report.validity import BUDGET_MARGIN, EDGE_FRACTION, PRUNING_PAIRS, PRUNING_TAU, QUARTER, improvement
from ganbench.strategies import BETA1_MAX

BETA1_TRUE_RANGE = (0.0, BETA1_MAX)  # what tuning searches when a suite says ``beta1: true``


def _parse(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def continuous_range(value: Any) -> tuple[float, float] | None:
    """A searched parameter's (low, high) when it is a continuous range, None when categorical or not searched:
    ``True`` (beta1's default range), ``{"low": a, "high": b}`` (any two numbers of a dict), or ``(a, b)``."""
    value = _parse(value)
    if value is True:
        return BETA1_TRUE_RANGE
    if isinstance(value, dict):
        nums = [float(v) for v in value.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        nested = [v for v in value.values() if isinstance(v, (list, tuple))]
        nums = nums if len(nums) == 2 else [float(v) for v in nested[0]] if len(nested) == 1 else []
        return (min(nums), max(nums)) if len(nums) == 2 else None
    if isinstance(value, tuple) and len(value) == 2:  # a list is a categorical choice
        return float(min(value)), float(max(value))
    return None


def on_edge(value: float, low: float, high: float, log: bool) -> str | None:
    """``"min"`` or ``"max"`` when ``value`` lies within EDGE_FRACTION of the range from that bound."""
    f = math.log if log else float
    width = f(high) - f(low)
    if width <= 0:
        return None
    position = (f(value) - f(low)) / width
    return "min" if position <= EDGE_FRACTION else "max" if position >= 1 - EDGE_FRACTION else None


def study_label(studies: Sequence[Any], name: Callable[[str, str], str]) -> Callable[[Any], str]:
    """How a finding names a study: its contender, and its replicate when the suite ran several."""
    several = any(getattr(s, "replicate", 0) for s in studies)
    return lambda s: name(s.loss, s.strategy) + (f" r{s.replicate}" if several else "")


@check("search_edge", "tuned value on the edge of the search space")
def search_edge(studies: Sequence[Any], name: Callable[[str, str], str]) -> list[Finding]:
    """Studies whose best lr_g / lr_d (log scale) or continuous beta1 lies on the edge of the search space;
    ``studies`` are ``tuning_report.StudySummary`` (the best params and the ``tuning.*`` search space)."""
    by_dataset: dict[str, list[tuple[str, str]]] = {}
    label = study_label(studies, name)
    for s in studies:
        lr = (_parse(s.space.get("lr_min")), _parse(s.space.get("lr_max")))
        lr_names = ("lr",) if "lr" in s.best else ("lr_g", "lr_d")  # one tied rate, or two
        bounds = {k: (lr, True) for k in lr_names if all(isinstance(b, (int, float)) for b in lr)}
        beta1 = continuous_range(s.space.get("beta1"))
        if beta1:
            bounds["beta1"] = (beta1, False)
        edges = [
            f"{k} {s.best[k]:.3g} at the {side} {b[0] if side == 'min' else b[1]:.3g}"
            for k, (b, log) in bounds.items()
            if k in s.best
            for side in [on_edge(s.best[k], float(b[0]), float(b[1]), log)]
            if side
        ]
        if edges:
            by_dataset.setdefault(s.dataset, []).append((label(s), ", ".join(edges)))
    return [
        Finding(
            "search_edge", d, tuple(n for n, _ in hits), f"{'; '.join(f'{n} ({e})' for n, e in hits)}; widen the range"
        )
        for d, hits in sorted(by_dataset.items())
    ]


@check("tuning_budget", "tuning budget too small (best-so-far still improving)")
def tuning_budget(studies: Sequence[Any], name: Callable[[str, str], str]) -> list[Finding]:
    """Studies whose best-so-far objective improved by more than BUDGET_MARGIN over the last quarter of trials."""
    by_dataset: dict[str, list[tuple[str, str]]] = {}
    label = study_label(studies, name)
    for s in studies:
        curve = sorted(s.curve)
        if len(curve) < 2:
            continue
        n = curve[-1][0]
        before = [v for t, v in curve if t <= max(1, math.floor((1 - QUARTER) * n))]
        gain = improvement(before[-1], curve[-1][1], s.objective) if before else math.nan
        if gain > BUDGET_MARGIN:
            first = len(before) + 1
            trials = f"trials {first}-{n}" if first < n else f"trial {n}"
            by_dataset.setdefault(s.dataset, []).append((label(s), f"{gain:+.0%} in {trials}"))
    return [
        Finding(
            "tuning_budget",
            d,
            tuple(n for n, _ in hits),
            f"best objective improved by more than {BUDGET_MARGIN:.0%} in the last quarter of trials: "
            f"{'; '.join(f'{n} ({e})' for n, e in hits)}; give every contender more trials",
        )
        for d, hits in sorted(by_dataset.items())
    ]


@check("pruning", "pruning rung predicts the end weakly")
def pruning(pruning_check: pd.DataFrame) -> list[Finding]:
    """Datasets where a pruning rung ordered the trials that ran to the end unlike the end (``pruning_check``
    from :func:`ganbench.report.budget.pruning_check`)."""
    out = []
    for dataset, part in pruning_check.groupby("dataset", sort=True) if not pruning_check.empty else []:
        weak = part[(part["pairs"] >= PRUNING_PAIRS) & (part["tau"] < PRUNING_TAU)]
        if not weak.empty:
            where = "; ".join(f"step {r.rung}: tau {r.tau:.2f} over {r.pairs} pairs" for r in weak.itertuples())
            out.append(
                Finding(
                    "pruning",
                    str(dataset),
                    (),
                    f"trials that ran to the end were ordered at the rung as at the end with Kendall's tau "
                    f"below {PRUNING_TAU} ({where}); halving may have stopped winners: prune later or not "
                    "at all",
                )
            )
    return out


@check("recipe_outside", "published recipe outside the search space")
def recipe_outside(studies: Sequence[Any], name: Callable[[str, str], str]) -> list[Finding]:
    """Studies whose loss's published learning rate lies outside the searched lr range."""
    from ganbench.losses import LOSSES

    by_dataset: dict[str, dict[str, str]] = {}
    for s in studies:
        base = s.loss.split("(")[0].split("+")[0]
        if base not in LOSSES:
            continue
        lr = LOSSES.get(base).recipe.get("lr")
        low, high = _parse(s.space.get("lr_min")), _parse(s.space.get("lr_max"))
        if lr is None or not all(isinstance(b, (int, float)) for b in (low, high)):
            continue
        if not low <= lr <= high:
            source = LOSSES.get(base).recipe.get("source", "its paper")
            by_dataset.setdefault(s.dataset, {})[name(s.loss, s.strategy)] = (
                f"lr {lr:g} ({source}) outside [{low:g}, {high:g}]"
            )
    return [
        Finding(
            "recipe_outside", d, tuple(hits), f"{'; '.join(f'{n} ({e})' for n, e in hits.items())}; widen the range"
        )
        for d, hits in sorted(by_dataset.items())
    ]
