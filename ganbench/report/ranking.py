"""The overall ranking of contenders across datasets.

A *block* is one unit of comparison on one dataset: a replicate (its mean over the paired seeds) when the suite
has several, else a seed (every statement is then conditional on the one tuning draw). Contenders are ranked
within each block by the dataset's primary metric (1 = best; ties share the average rank; a diverged run counts
as the worst value of the dataset), and the Friedman test asks whether the mean ranks differ at all (Demšar
2006).

Which contenders can be told apart comes from the pairwise decisions (:mod:`ganbench.report.inference`), not
from mean ranks: a mean-rank post-hoc test (Nemenyi) between two contenders depends on which others are in the
study (Benavoli, Corani & Mangili 2016). Contender a is *ahead of* b when on some dataset a is decided
practically better than b and on none practically worse. Two contenders neither of which is ahead of the other
are *joined*; the critical-difference diagram draws the maximal groups of joined contenders, so it never
contradicts the pairwise tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd
from scipy import stats

import ganbench.report.inference as I
from ganbench import metrics as M
from ganbench.report.stats import unit_values
from ganbench.status import DONE_VALUES

ALPHA = 0.05  # the level of the Friedman test


@dataclass(frozen=True)
class Ranking:
    """Mean ranks over complete blocks, the Friedman p-value, and which contenders the pairwise decisions
    separate (``ahead``) or join (``groups``)."""

    scope: str  # "all datasets" or the one dataset's name
    datasets: tuple[str, ...]
    blocks: int  # complete blocks used
    unit: str  # "replicate" or "seed": what a block is
    mean_ranks: pd.Series  # contender -> mean rank, best first
    friedman_p: float  # NaN when there is no test (fewer than 2 contenders or 2 blocks)
    test: str  # how friedman_p was computed
    ahead: dict[tuple[str, str], bool]  # (a, b) -> a is ahead of b
    groups: list[tuple[str, ...]]  # maximal sets of contenders that cannot be told apart, best first
    notes: list[str] = field(default_factory=list)

    @property
    def tested(self) -> bool:
        return not math.isnan(self.friedman_p)

    def joined(self, a: str, b: str) -> bool:
        return not self.ahead.get((a, b), False) and not self.ahead.get((b, a), False)

    def table(self) -> pd.DataFrame:
        """One row per contender: mean rank, its groups as letters (a = the group of the best) and how many
        contenders it is ahead of / behind."""
        order = list(self.mean_ranks.index)
        letters = {c: "".join(chr(97 + i) for i, g in enumerate(self.groups) if c in g) for c in order}
        ahead = {c: sum(self.ahead.get((c, o), False) for o in order) for c in order}
        behind = {c: sum(self.ahead.get((o, c), False) for o in order) for c in order}
        return pd.DataFrame(
            {
                "contender": order,
                "mean_rank": self.mean_ranks.to_numpy(),
                "group": [letters[c] for c in order],
                "ahead_of": [ahead[c] for c in order],
                "behind": [behind[c] for c in order],
            }
        )

    def caption(self) -> str:
        unit = "dataset × replicate" if self.unit == "replicate" else "dataset × seed"
        if not self.tested:
            return f"{self.scope}: {self.blocks} block(s), {len(self.mean_ranks)} contender(s): no test."
        return (
            f"{self.scope}: mean rank over {self.blocks} blocks ({unit}; 1 = best); {self.test} p = "
            f"{self.friedman_p:.3g}. Contenders sharing a group letter cannot be told apart by the pairwise "
            "decisions: neither is practically better on some dataset and not worse on any."
        )

    def best_group(self) -> tuple[str, ...]:
        return self.groups[0] if self.groups else tuple(self.mean_ranks.index[:1])


def namer(strategies: Iterable[str]) -> Callable[[str, str], str]:
    """How a contender is named in the report: its loss when the suite has one strategy, else loss|strategy."""
    one = len(set(strategies)) <= 1
    return lambda loss, strategy: str(loss) if one else f"{loss}|{strategy}"


def block_scores(
    runs: pd.DataFrame, primary: Mapping[str, str], name: Callable[[str, str], str]
) -> tuple[pd.DataFrame, list[str], str]:
    """Rows (dataset, block), columns contenders, values oriented so that lower is better; the notes; the unit.
    Contenders absent from a whole dataset are left out (and said so)."""
    done = runs[runs["status"].isin(DONE_VALUES)]
    frames, notes, unit = [], [], "seed"
    several = done["replicate"].fillna(0).nunique() > 1 if "replicate" in done else False
    for dataset, metric in sorted(primary.items()):
        part = done[done["dataset"] == dataset]
        if metric not in part:
            continue
        keys = sorted({(a, b) for a, b in zip(part["loss"], part["strategy"])})
        values = I.oriented(unit_values(part, metric, keys), M.is_higher_better(metric))
        if several:
            unit = "replicate"
            blocks = I.replicate_means(values)  # [contenders, replicates]
        else:
            blocks = values[:, 0, :]  # [contenders, seeds]
        table = pd.DataFrame(blocks.T, columns=[name(*k) for k in keys])
        frames.append(pd.concat({dataset: table}, names=["dataset", "block"]))
    if not frames:
        return pd.DataFrame(), notes, unit
    scores = pd.concat(frames)
    everywhere = scores.notna().groupby(level="dataset").any().all()
    if not everywhere.all():
        notes.append(
            f"left out of the overall ranking, missing on a whole dataset: {', '.join(everywhere.index[~everywhere])}"
        )
        scores = scores.loc[:, everywhere]
    complete = scores.notna().all(axis=1)
    if (~complete).any():
        notes.append(f"{int((~complete).sum())} incomplete block(s) dropped (a contender has no result there)")
    return scores[complete], notes, unit


def rank_blocks(scores: pd.DataFrame) -> pd.DataFrame:
    """Ranks within each block (row): 1 = best, ties share the average rank (Demšar's convention)."""
    ranks = stats.rankdata(scores.to_numpy(dtype=float), axis=1, method="average")
    return pd.DataFrame(ranks, index=scores.index, columns=scores.columns)


def friedman(ranks: pd.DataFrame) -> tuple[float, str]:
    """p-value that the contenders' mean ranks differ. Friedman's chi-square (scipy) for 3 or more contenders;
    for two, the exact two-sided sign test over blocks, which is what Friedman's test reduces to."""
    values = ranks.to_numpy(dtype=float)
    if (values == values[:, :1]).all():  # every block a full tie: nothing to tell apart (scipy gives NaN)
        return 1.0, "Friedman"
    if values.shape[1] == 2:
        wins = int((values[:, 0] < values[:, 1]).sum())
        losses = int((values[:, 0] > values[:, 1]).sum())
        return float(stats.binomtest(wins, wins + losses).pvalue), "sign test (Friedman with 2 contenders)"
    return float(stats.friedmanchisquare(*values.T).pvalue), "Friedman"


def ahead_relation(
    decisions: Mapping[str, pd.DataFrame], name: Callable[[str, str], str], order: list[str]
) -> dict[tuple[str, str], bool]:
    """(a, b) -> a is practically better than b on some dataset and practically worse on none, from each
    dataset's pairwise decisions (:func:`ganbench.report.stats.pairwise`)."""
    better: dict[tuple[str, str], int] = {}
    worse: dict[tuple[str, str], int] = {}
    for table in decisions.values():
        for row in table.itertuples():
            key = (name(row.loss, row.strategy), name(row.other_loss, row.other_strategy))
            better[key] = better.get(key, 0) + (row.decision == I.BETTER)
            worse[key] = worse.get(key, 0) + (row.decision == I.WORSE)
    return {(a, b): better.get((a, b), 0) > 0 and worse.get((a, b), 0) == 0 for a in order for b in order if a != b}


def rank_contenders(
    scores: pd.DataFrame, scope: str, unit: str, ahead: dict[tuple[str, str], bool], notes: list[str] | None = None
) -> Ranking:
    """Rank the columns of ``scores`` (rows: complete blocks, lower is better), test the ranks, and group the
    contenders that the pairwise decisions (``ahead``) do not separate."""
    notes = list(notes or [])
    datasets = tuple(dict.fromkeys(scores.index.get_level_values(0))) if len(scores) else ()
    ranks = rank_blocks(scores) if len(scores) else scores
    mean = ranks.mean().sort_values(kind="stable") if len(scores) else pd.Series(1.0, index=scores.columns)
    order = [str(c) for c in mean.index]
    ahead = {k: v for k, v in ahead.items() if k[0] in order and k[1] in order}
    k, n = len(order), len(scores)
    joined = {(a, b): not ahead.get((a, b)) and not ahead.get((b, a)) for a in order for b in order if a != b}
    groups = I.maximal_groups(order, joined)
    if k < 2 or n < 2:
        notes.append(f"{k} contender(s) and {n} complete block(s): nothing to test")
        return Ranking(scope, datasets, n, unit, mean, math.nan, "", ahead, groups, notes)
    p, test = friedman(ranks)
    if p >= ALPHA:
        notes.append(f"{test} p = {p:.3g} ≥ {ALPHA}: the mean ranks do not differ significantly")
    return Ranking(scope, datasets, n, unit, mean, p, test, ahead, groups, notes)


def overall_ranking(
    runs: pd.DataFrame,
    primary: Mapping[str, str],
    name: Callable[[str, str], str],
    decisions: Mapping[str, pd.DataFrame] | None = None,
) -> Ranking | None:
    """Rank the contenders over (dataset, block) blocks by each dataset's primary metric; None without data.
    ``decisions``: each dataset's pairwise decisions on its primary metric (none: nothing is separated)."""
    scores, notes, unit = block_scores(runs, primary, name)
    if scores.empty and not notes:
        return None
    datasets = sorted(primary)
    scope = "all datasets" if len(datasets) > 1 else f"{datasets[0]} (the only dataset)"
    ahead = ahead_relation(decisions or {}, name, [str(c) for c in scores.columns])
    return rank_contenders(scores, scope, unit, ahead, notes)


def joined_matrix(ranking: Ranking) -> pd.DataFrame:
    """1 where two contenders cannot be told apart (neither is ahead), else 0: what the CD diagram joins."""
    order = list(ranking.mean_ranks.index)
    same = [[1.0 if a == b or ranking.joined(a, b) else 0.0 for b in order] for a in order]
    return pd.DataFrame(same, index=order, columns=order)


def replicate_ranks(runs: pd.DataFrame, dataset: str, metric: str, name: Callable[[str, str], str]) -> pd.DataFrame:
    """Rank stability: each contender's rank (1 = best) on ``dataset`` in every replicate, by its mean over the
    replicate's seeds; rows contenders (by mean rank), columns replicates."""
    part = runs[(runs["dataset"] == dataset) & runs["status"].isin(DONE_VALUES)]
    keys = sorted({(a, b) for a, b in zip(part["loss"], part["strategy"])})
    if not keys:
        return pd.DataFrame()
    means = I.replicate_means(I.oriented(unit_values(part, metric, keys), M.is_higher_better(metric)))
    ranks = pd.DataFrame(means, index=[name(*k) for k in keys]).rank(method="min")
    ranks.columns = [f"r{int(r)}" for r in sorted(part["replicate"].fillna(0).astype(int).unique())]
    return ranks.loc[ranks.mean(axis=1).sort_values(kind="stable").index]


__all__ = [
    "ALPHA",
    "Ranking",
    "ahead_relation",
    "block_scores",
    "friedman",
    "joined_matrix",
    "namer",
    "overall_ranking",
    "rank_blocks",
    "rank_contenders",
    "replicate_ranks",
]
