"""What a comparison can conclude, with the tuning's variance in it.

A contender's values of a metric on a dataset form a table ``[replicates, seeds]``: each replicate is the whole
tune-then-train pipeline with its own tuning draws, and its seeds are paired across contenders (the same seed
gives every contender the same initial weights and data). Two sources of variance: the seeds within a replicate,
and the tuning between replicates.

**The unit.** A statement about contenders must carry the tuning's variance, so with several replicates the unit
is the replicate, valued by its mean over the paired seeds. With one replicate the unit is the seed, and every
statement is conditional on that one tuning draw (the report says so).

**One model for every statement**, so that intervals, ``p_best`` and decisions never disagree: the posterior of
the contenders' mean unit values under the noninformative prior of the normal model, a multivariate Student t
with n - 1 degrees of freedom (n units) around the observed means, scaled by the units' sample covariance (which
carries the pairing). Its marginals give each contender's interval (the t interval of its unit values), its
draws ``p_best`` (the share of draws in which a contender has the best mean), and the marginal of any difference
is the paired t-test's posterior, from which the pairwise decisions come.

Why not the alternatives (measured in ``results/statistics_check``, on simulated studies whose tuning spread is
twice their seed spread): a hierarchical bootstrap (replicates, then seeds) gives 95 % intervals that cover the
true mean 76 % of the time with 3 replicates and 85 % with 5 (a bootstrap cannot see a distribution's spread in
three values), where the t interval covers 95 %; treating the seeds of all replicates as independent units covers
64-71 % and calls two equal contenders different 29-35 % of the time; and the Bayesian signed-rank test
(Benavoli et al. 2014, in ``baycomp``) over replicate means calls them different 26 % of the time with 3
replicates (three same-signed differences put 0.99 on one side) and gives no interval for the difference, so its
decisions could not be shown beside one. The t posterior over replicates calls them different 5 % of the time.
baycomp's correlated t-test applies a cross-validation correction that does not hold here, and its hierarchical
test needs a Stan installation.

**Pairwise decisions with a region of practical equivalence (ROPE)**, as Benavoli, Corani, Demšar & Zaffalon
2017 ("Time for a change", JMLR 18) recommend: compare pairs, not mean ranks. With δ the mean difference
(positive: worse), a contender is practically *worse* when P(δ > ROPE) >= ``DECIDE``, practically *better* when
P(δ < -ROPE) >= ``DECIDE``, practically *equivalent* when both P(δ < ROPE) and P(δ > -ROPE) reach it (two
one-sided tests), else *undecided*. So a decision is exactly where the difference's central interval at level
2 ``DECIDE`` - 1 (95 %) lies against the ROPE: above it, below it, inside it, or across an edge. The ROPE of a
metric on a dataset is the spread (standard deviation) of the metric over independent real samples of the same
size: a difference smaller than what re-drawing the real data moves the metric by is not one the metric can
see. No multiplicity correction is applied to these posterior probabilities (Benavoli et al. 2017 argue the
Bayesian decision needs none); the twin tests (a loss against itself under another name) check that equal
contenders are not declared different.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

RESAMPLES = 4000  # posterior draws for p_best: about +-0.01
RESAMPLE_SEED = 0  # the same draws every time: a rebuilt report has the same numbers
CONFIDENCE = 0.95
# posterior probability, per side, at which a pair is decided worse, better or (both sides) equivalent: the
# difference's 95 % interval lies beyond, or inside, the ROPE. At 0.95 per side two equal contenders would be
# called different 10 % of the time with a ROPE of 0 (results/statistics_check); at 0.975, 5 %.
DECIDE = 0.975

BEST, EQUIVALENT, WORSE, BETTER, UNDECIDED = "best", "equivalent", "worse", "better", "undecided"


@dataclass(frozen=True)
class Pair:
    """The posterior probabilities that a contender is practically worse than, equivalent to or better than
    another (``p_worse + p_equivalent + p_better = 1``), the decision, the mean difference (positive = worse) and
    the unit the test counted ("replicate" or "seed") with how many units."""

    p_worse: float
    p_equivalent: float
    p_better: float
    decision: str
    difference: float
    unit: str
    units: int

    @classmethod
    def undecided(cls, unit: str, units: int, difference: float = np.nan) -> Pair:
        return cls(np.nan, np.nan, np.nan, UNDECIDED, difference, unit, units)


def oriented(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Values turned so that lower is better (a higher-is-better metric negated)."""
    return -values if higher_is_better else values


def replicate_means(values: np.ndarray) -> np.ndarray:
    """``[contenders, replicates]`` means over seeds of ``values`` (``[contenders, replicates, seeds]``)."""
    with _quiet():
        return np.nanmean(values, axis=2)


def units(values: np.ndarray) -> str:
    """The unit of the comparison: ``"replicate"`` when two or more replicates have values, else ``"seed"``."""
    return "replicate" if np.isfinite(replicate_means(values)).any(axis=0).sum() >= 2 else "seed"


def unit_values(values: np.ndarray) -> np.ndarray:
    """``[contenders, units]``: the replicate means (several replicates) or the seeds of the one replicate."""
    if values.ndim == 2:
        values = values[None]
    return replicate_means(values) if units(values) == "replicate" else values[:, 0, :]


def posterior_means(values: np.ndarray, draws: int = RESAMPLES, seed: int = RESAMPLE_SEED) -> np.ndarray:
    """``[draws, contenders]`` draws of the contenders' means from the multivariate t posterior, over the units
    in which every contender has a value (oriented values: lower is better); NaN without two such units."""
    table = unit_values(values)
    table = table[:, np.isfinite(table).all(axis=0)]
    n = table.shape[1]
    if n < 2:
        return np.full((draws, values.shape[0]), np.nan)
    rng = np.random.default_rng(seed)
    centre = table.mean(axis=1)
    spread = (rng.standard_normal((draws, n)) @ (table - centre[:, None]).T) / np.sqrt((n - 1) * n)
    return centre + spread * np.sqrt((n - 1) / rng.chisquare(n - 1, size=(draws, 1)))


def interval(
    values: np.ndarray, confidence: float = CONFIDENCE, bounds: tuple[float | None, float | None] = (None, None)
) -> tuple[np.ndarray, np.ndarray]:
    """Each contender's t interval for its mean over its units (NaN with fewer than two), clipped to the
    metric's ``bounds``: the symmetric t interval can reach past them (a HQ % above 100), and the true mean,
    which lies inside them, is covered as often after clipping as before."""
    table = unit_values(values)
    low, high = np.full(table.shape[0], np.nan), np.full(table.shape[0], np.nan)
    for c, row in enumerate(table):
        x = row[np.isfinite(row)]
        if len(x) >= 2:
            half = stats.t.ppf((1 + confidence) / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
            low[c], high[c] = x.mean() - half, x.mean() + half
    floor, ceiling = bounds
    if floor is not None:
        low, high = np.maximum(low, floor), np.maximum(high, floor)  # NaN stays NaN
    if ceiling is not None:
        low, high = np.minimum(low, ceiling), np.minimum(high, ceiling)
    return low, high


def chance_best(means: np.ndarray) -> np.ndarray:
    """Per contender, the share of draws in which its mean is the lowest (ties shared); ``means``
    (``[draws, contenders]``) oriented so that lower is better. A contender without a value cannot be best."""
    filled = np.where(np.isnan(means), np.inf, means)
    lowest = filled.min(axis=1, keepdims=True)
    best = (filled == lowest) & np.isfinite(lowest)
    share = best / np.maximum(best.sum(axis=1, keepdims=True), 1)
    return share.mean(axis=0)


def compare(worse: np.ndarray, better: np.ndarray, rope: float) -> Pair:
    """Whether the contender with values ``worse`` (``[replicates, seeds]``, oriented: lower is better) is
    practically worse than, equivalent to or better than the one with ``better``, whose units it pairs with.
    (The names say which side a positive difference counts against; either may turn out better.)"""
    rope = max(float(rope), 0.0) if np.isfinite(rope) else 0.0
    unit = units(np.stack([worse, better]))
    d = unit_values(worse - better)[0]
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return Pair.undecided(unit, len(d), float(d.mean()) if len(d) else np.nan)
    mean, n = float(d.mean()), len(d)
    scale = float(d.std(ddof=1)) / np.sqrt(n)
    if scale == 0:  # every unit the same difference: the posterior is a point
        p_above, p_below, inside = float(mean > rope), float(mean < -rope), float(abs(mean) <= rope)
    else:
        posterior = stats.t(n - 1, loc=mean, scale=scale)
        p_above, p_below = float(posterior.sf(rope)), float(posterior.cdf(-rope))
        inside = max(0.0, 1 - p_above - p_below)
    decision = UNDECIDED
    if p_above >= DECIDE:
        decision = WORSE
    elif p_below >= DECIDE:
        decision = BETTER
    elif 1 - p_above >= DECIDE and 1 - p_below >= DECIDE:
        decision = EQUIVALENT
    return Pair(p_above, inside, p_below, decision, mean, unit, n)


def difference_interval(worse: np.ndarray, better: np.ndarray, level: float = 2 * DECIDE - 1) -> tuple[float, float]:
    """The central interval of the paired difference's posterior at ``level`` (95 %): the decision of
    :func:`compare` is where it lies against the ROPE."""
    d = unit_values(worse - better)[0]
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return np.nan, np.nan
    half = stats.t.ppf((1 + level) / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean() - half), float(d.mean() + half)


def maximal_groups(order: Sequence[str], joined: dict[tuple[str, str], bool]) -> list[tuple[str, ...]]:
    """The maximal sets of contenders of which every two are joined (cannot be told apart), each in ``order``
    (best first), the groups sorted by their best member: what a critical-difference diagram draws. Exact for
    any relation (Bron-Kerbosch), so a drawn group never holds a pair the tests separated, and every pair they
    did not separate shares a group."""
    names = list(order)
    neighbours = {a: {b for b in names if b != a and joined.get((a, b), joined.get((b, a), False))} for a in names}
    found: list[set[str]] = []

    def expand(clique: set[str], candidates: set[str], excluded: set[str]) -> None:
        if not candidates and not excluded:
            found.append(clique)
            return
        for v in list(candidates):
            expand(clique | {v}, candidates & neighbours[v], excluded & neighbours[v])
            candidates = candidates - {v}
            excluded = excluded | {v}

    expand(set(), set(names), set())
    rank = {n: i for i, n in enumerate(names)}
    groups = [tuple(sorted(g, key=rank.__getitem__)) for g in found]
    return sorted(groups, key=lambda g: [rank[n] for n in g])


class _quiet(np.errstate):
    """Mean of an empty slice is NaN here by design: no warning."""

    def __enter__(self):  # type: ignore[override]
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)
        return super().__enter__()

    def __exit__(self, *exc):  # type: ignore[override]
        self._catch.__exit__(*exc)
        return super().__exit__(*exc)

    def __init__(self) -> None:
        super().__init__(invalid="ignore", divide="ignore")
