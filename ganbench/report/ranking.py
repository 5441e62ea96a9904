"""The overall ranking of contenders across datasets (Demšar 2006, "Statistical comparisons of classifiers over
multiple data sets", JMLR 7).

A *block* is one (dataset, paired seed): the same seed gives every contender the same initial weights and data
stream, so within a block the contenders are compared on equal terms. Contenders are ranked within each block
by the dataset's primary metric (1 = best; ties share the average rank; a diverged run ranks last), the Friedman
test asks whether the mean ranks differ at all, and the Nemenyi post-hoc test (scikit-posthocs) says which
pairs differ. Contenders whose mean ranks lie within one critical difference (CD) of each other are joined in a
group: they cannot be told apart. With one dataset the blocks are that dataset's seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ganbench import metrics as M
from ganbench.status import DONE_VALUES, Status

ALPHA = 0.05  # the significance level of every test in the report
DIVERGED_STATUS = Status.DIVERGED
RESULT_STATUSES = DONE_VALUES  # a run with one of these is a result


@dataclass(frozen=True)
class Ranking:
    """Mean ranks over complete blocks, the Friedman p-value, the Nemenyi p-values and the groups."""

    scope: str  # "all datasets" or the one dataset's name
    datasets: tuple[str, ...]
    blocks: int  # complete blocks used
    mean_ranks: pd.Series  # contender -> mean rank, best first
    friedman_p: float  # NaN when there is no test (fewer than 2 contenders or 2 blocks)
    test: str  # how friedman_p was computed
    nemenyi: pd.DataFrame | None  # pairwise p-values, contenders in mean-rank order
    cd: float  # Nemenyi critical difference at ALPHA, in ranks; NaN without a test
    groups: list[tuple[str, ...]]  # maximal sets of contenders that cannot be told apart, best first
    notes: list[str] = field(default_factory=list)

    @property
    def tested(self) -> bool:
        return not math.isnan(self.friedman_p)

    def table(self) -> pd.DataFrame:
        """One row per contender: mean rank and its groups as letters (a = the group of the best)."""
        letters = {
            c: "".join(chr(97 + i) for i, g in enumerate(self.groups) if c in g)
            for c in self.mean_ranks.index
        }
        return pd.DataFrame({"contender": self.mean_ranks.index, "mean_rank": self.mean_ranks.to_numpy(),
                             "group": [letters[c] for c in self.mean_ranks.index]})  # fmt: skip

    def caption(self) -> str:
        if not self.tested:
            return f"{self.scope}: {self.blocks} block(s), {len(self.mean_ranks)} contender(s): no test."
        return (f"{self.scope}: mean rank over {self.blocks} blocks (dataset × seed; 1 = best). {self.test} "
                f"p = {self.friedman_p:.3g}; Nemenyi CD = {self.cd:.2f} ranks at α = {ALPHA}. Contenders sharing a "
                "group letter cannot be told apart.")  # fmt: skip

    def best_group(self) -> tuple[str, ...]:
        return self.groups[0] if self.groups else tuple(self.mean_ranks.index[:1])


def namer(strategies: Iterable[str]) -> Callable[[str, str], str]:
    """How a contender is named in the report: its loss when the suite has one strategy, else loss|strategy."""
    one = len(set(strategies)) <= 1
    return lambda loss, strategy: str(loss) if one else f"{loss}|{strategy}"


def block_scores(runs: pd.DataFrame, primary: dict[str, str], name: Callable[[str, str], str]) -> tuple[pd.DataFrame, list[str]]:  # fmt: skip
    """Rows (dataset, seed), columns contenders, values oriented so that lower is better; a diverged run is +inf,
    a missing run NaN. Contenders absent from a whole dataset are left out (and said so)."""
    done = runs[runs["status"].isin(RESULT_STATUSES)]
    frames, notes = [], []
    for dataset, metric in sorted(primary.items()):
        part = done[done["dataset"] == dataset]
        if metric not in part:
            continue
        sign = -1.0 if M.is_higher_better(metric) else 1.0
        score = sign * part[metric].astype(float)
        score = score.where(part["status"] != DIVERGED_STATUS, np.inf)
        cols = [name(a, b) for a, b in zip(part["loss"], part["strategy"])]
        table = pd.DataFrame({"seed": part["seed"], "contender": cols, "score": score})
        table = table.pivot_table(
            index="seed", columns="contender", values="score", aggfunc="first", dropna=False
        )
        frames.append(pd.concat({dataset: table}, names=["dataset"]))
    if not frames:
        return pd.DataFrame(), notes
    scores = pd.concat(frames)
    everywhere = scores.notna().groupby(level="dataset").any().all()
    if not everywhere.all():
        missing = ", ".join(everywhere.index[~everywhere])
        notes.append(f"left out of the overall ranking, missing on a whole dataset: {missing}")
        scores = scores.loc[:, everywhere]
    complete = scores.notna().all(axis=1)
    if (~complete).any():
        dropped = ", ".join(f"{d} seed {s}" for d, s in scores.index[~complete])
        notes.append(
            f"{int((~complete).sum())} incomplete block(s) dropped (a contender has no result): {dropped}"
        )
    return scores[complete], notes


def rank_blocks(scores: pd.DataFrame) -> pd.DataFrame:
    """Ranks within each block (row): 1 = best, ties share the average rank (Demšar's convention)."""
    ranks = stats.rankdata(scores.to_numpy(dtype=float), axis=1, method="average")
    return pd.DataFrame(ranks, index=scores.index, columns=scores.columns)


def friedman(ranks: pd.DataFrame) -> tuple[float, str]:
    """p-value that the contenders' mean ranks differ. Friedman's chi-square (scipy) for 3 or more contenders;
    for two, the exact two-sided sign test over blocks, which is what Friedman's test reduces to."""
    values = ranks.to_numpy(dtype=float)
    if (
        values == values[:, :1]
    ).all():  # every block a full tie: nothing to tell apart (scipy would give NaN)
        return 1.0, "Friedman"
    if values.shape[1] == 2:
        wins = int((values[:, 0] < values[:, 1]).sum())
        losses = int((values[:, 0] > values[:, 1]).sum())
        return float(stats.binomtest(wins, wins + losses).pvalue), "sign test (Friedman with 2 contenders)"
    return float(stats.friedmanchisquare(*values.T).pvalue), "Friedman"


def critical_difference(k: int, blocks: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference q_alpha * sqrt(k (k + 1) / (6 N)), q_alpha the studentized range quantile
    over sqrt 2 (Demšar 2006, eq. after (2)): 3.03 ranks for k = 10 and N = 20."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * blocks)))


def groups_from(order: list[str], joined: Callable[[str, str], bool]) -> list[tuple[str, ...]]:
    """Maximal runs of contenders (in mean-rank order) of which every pair is joined. For Nemenyi, where a pair is
    joined when its rank difference is below one CD, these are exactly the bars of the CD diagram."""
    runs: list[tuple[str, ...]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and all(joined(order[m], order[j + 1]) for m in range(i, j + 1)):
            j += 1
        if not runs or j > order.index(runs[-1][-1]):
            runs.append(tuple(order[i : j + 1]))
    return runs


def rank_contenders(scores: pd.DataFrame, scope: str, notes: list[str] | None = None) -> Ranking:
    """Rank the columns of ``scores`` (rows: complete blocks, lower is better) and test the differences."""
    notes = list(notes or [])
    datasets = tuple(dict.fromkeys(scores.index.get_level_values(0))) if len(scores) else ()
    ranks = rank_blocks(scores) if len(scores) else scores
    mean = ranks.mean().sort_values(kind="stable") if len(scores) else pd.Series(1.0, index=scores.columns)
    order = [str(c) for c in mean.index]
    k, n = len(order), len(scores)
    if k < 2 or n < 2:
        notes.append(f"{k} contender(s) and {n} complete block(s): nothing to test")
        return Ranking(scope, datasets, n, mean, math.nan, "", None, math.nan, [tuple(order)], notes)
    import scikit_posthocs as sp  # imported late: it loads statsmodels (about a second)

    p, test = friedman(ranks)
    nemenyi = sp.posthoc_nemenyi_friedman(ranks[order].to_numpy()).set_axis(order).set_axis(order, axis=1)
    if p < ALPHA:
        groups = groups_from(order, lambda a, b: nemenyi.at[a, b] >= ALPHA)
    else:  # the omnibus test finds no difference: no post-hoc separation either (Demšar 2006, section 3.2.2)
        groups = [tuple(order)]
        notes.append(f"{test} p = {p:.3g} ≥ {ALPHA}: the mean ranks do not differ significantly")
    return Ranking(scope, datasets, n, mean, p, test, nemenyi, critical_difference(k, n), groups, notes)


def overall_ranking(runs: pd.DataFrame, primary: dict[str, str], name: Callable[[str, str], str]) -> Ranking | None:  # fmt: skip
    """Rank the contenders over (dataset, seed) blocks by each dataset's primary metric; None without data."""
    scores, notes = block_scores(runs, primary, name)
    if scores.empty and not notes:
        return None
    datasets = sorted(primary)
    scope = "all datasets" if len(datasets) > 1 else f"the seeds of {datasets[0]} (the only dataset)"
    return rank_contenders(scores, scope, notes)


def joined_matrix(ranking: Ranking) -> pd.DataFrame:
    """1 where two contenders share a group, else 0: what the CD diagram draws a bar over."""
    order = list(ranking.mean_ranks.index)
    same = [[float(any(a in g and b in g for g in ranking.groups)) for b in order] for a in order]
    return pd.DataFrame(same, index=order, columns=order)
