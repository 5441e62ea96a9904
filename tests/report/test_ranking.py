"""The overall ranking on constructed tables whose answer is known: mean ranks over blocks (replicates when there
are several, else seeds), Friedman, and groups that come from the pairwise decisions, so the critical-difference
diagram never contradicts them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from scipy import stats

import ganbench.report.ranking as ranking
from ganbench.report.ranking import namer, overall_ranking
from ganbench.report.stats import pairwise

NAME = namer(["adam"])
PRIMARY = {"ring8": "w1_raw", "grid25": "w1_raw"}


def _runs(values: dict[str, dict[str, list[float]]], metric: str = "w1_raw", replicates: int = 1) -> pd.DataFrame:
    """values[dataset][loss] = one value per run (seeds, replicate after replicate); NaN is a diverged run."""
    rows = []
    for d, losses in values.items():
        for loss, vals in losses.items():
            per = len(vals) // replicates
            rows += [
                {
                    "dataset": d,
                    "loss": loss,
                    "strategy": "adam",
                    "replicate": i // per,
                    "seed": i,
                    "run_id": f"{d}-{loss}-{i}",
                    "status": "diverged" if np.isnan(v) else "finished",
                    metric: v,
                }
                for i, v in enumerate(vals)
            ]
    return pd.DataFrame(rows)


def _table(n: int = 10) -> dict[str, dict[str, list[float]]]:
    """best wins every block, same1 and same2 are identical (tie in every block), worst loses every block."""
    rng = np.random.default_rng(0)
    out = {}
    for d in PRIMARY:
        base = rng.uniform(1, 2, n)
        out[d] = {"best": list(base - 0.5), "same1": list(base), "same2": list(base), "worst": list(base + 0.5)}
    return out


def _decisions(runs: pd.DataFrame, rope: float = 0.1) -> dict[str, pd.DataFrame]:
    return {d: pairwise(runs, d, m, rope) for d, m in PRIMARY.items() if d in set(runs["dataset"])}


def test_known_ranking_groups_and_friedman_p() -> None:
    runs = _runs(_table())
    r = overall_ranking(runs, PRIMARY, NAME, _decisions(runs))
    assert r.scope == "all datasets" and r.blocks == 20 and r.unit == "seed" and r.notes == []
    assert r.mean_ranks.to_dict() == {"best": 1.0, "same1": 2.5, "same2": 2.5, "worst": 4.0}
    # Friedman by hand: 12 N / (k (k + 1)) * sum (R_j - (k + 1) / 2)^2 = 12 * 4.5 = 54, over the tie correction
    # 1 - N (2^3 - 2) / (N k (k^2 - 1)) = 0.9, with k - 1 = 3 degrees of freedom
    torch.testing.assert_close(r.friedman_p, float(stats.chi2.sf(54 / 0.9, 3)))
    # every block 0.5 apart, beyond the ROPE of 0.1: best ahead of all; the identical pair joined
    assert r.groups == [("best",), ("same1", "same2"), ("worst",)]
    assert r.table()["group"].tolist() == ["a", "b", "b", "c"] and r.table()["ahead_of"].tolist() == [3, 1, 1, 0]
    assert r.best_group() == ("best",)


def test_groups_never_contradict_the_pairwise_decisions() -> None:
    """A contender better on one dataset and worse on the other is ahead of no one: joined, though its mean
    rank differs."""
    table = _table()
    table["grid25"]["mixed"] = [v - 1.0 for v in table["grid25"]["best"]]  # best of all on grid25 ...
    table["ring8"]["mixed"] = [v + 1.0 for v in table["ring8"]["worst"]]  # ... worst of all on ring8
    runs = _runs(table)
    decisions = _decisions(runs)
    r = overall_ranking(runs, PRIMARY, NAME, decisions)
    for a in r.mean_ranks.index:
        for b in r.mean_ranks.index:
            if a == b:
                continue
            decided = {d: t[(t["loss"] == a) & (t["other_loss"] == b)]["decision"].item() for d, t in decisions.items()}
            ahead = "better" in decided.values() and "worse" not in decided.values()
            assert r.ahead[(a, b)] == ahead, (a, b, decided)
            shares_group = any(a in g and b in g for g in r.groups)
            assert shares_group == (not ahead and not r.ahead[(b, a)]), (a, b)
    assert r.joined("mixed", "best") and r.joined("mixed", "worst")


def test_replicates_are_the_blocks_when_there_are_several() -> None:
    table = {d: {k: v[:9] for k, v in losses.items()} for d, losses in _table(9).items()}
    r = overall_ranking(_runs(table, replicates=3), PRIMARY, NAME)
    assert r.unit == "replicate" and r.blocks == 6  # 2 datasets x 3 replicates, each its seeds' mean
    assert "dataset × replicate" in r.caption()


def test_a_diverged_run_counts_as_the_worst_value_of_its_dataset() -> None:
    table = _table(4)
    table["ring8"]["best"][2] = np.nan  # diverged: the worst value of ring8, so last in its block
    scores, notes, unit = ranking.block_scores(_runs(table), PRIMARY, NAME)
    assert scores.loc[("ring8", 2), "best"] == max(table["ring8"]["worst"])  # another seed's, the dataset's worst
    ranks = ranking.rank_blocks(scores)
    assert ranks.loc[("ring8", 2)].to_dict() == {"best": 4.0, "same1": 1.5, "same2": 1.5, "worst": 3.0}
    assert notes == [] and len(scores) == 8 and unit == "seed"


def test_incomplete_blocks_are_dropped_and_said() -> None:
    runs = _runs(_table())
    runs = runs[~((runs["dataset"] == "ring8") & (runs["loss"] == "same1") & (runs["seed"] == 3))]
    r = overall_ranking(runs, PRIMARY, NAME)
    assert r.blocks == 19
    assert r.notes == ["1 incomplete block(s) dropped (a contender has no result there)"]


def test_a_contender_missing_on_a_whole_dataset_is_left_out() -> None:
    table = _table()
    del table["grid25"]["worst"]
    r = overall_ranking(_runs(table), PRIMARY, NAME)
    assert list(r.mean_ranks.index) == ["best", "same1", "same2"] and r.blocks == 20
    assert r.notes == ["left out of the overall ranking, missing on a whole dataset: worst"]


def test_one_dataset_ranks_its_seeds() -> None:
    r = overall_ranking(_runs({"ring8": _table()["ring8"]}), {"ring8": "w1_raw"}, NAME)
    assert r.scope == "ring8 (the only dataset)" and r.blocks == 10 and r.datasets == ("ring8",)


def test_two_contenders_use_the_exact_sign_test() -> None:
    table = {d: {k: v for k, v in losses.items() if k in ("best", "worst")} for d, losses in _table().items()}
    runs = _runs(table)
    r = overall_ranking(runs, PRIMARY, NAME, _decisions(runs))
    torch.testing.assert_close(r.friedman_p, 2 / 2**20)  # best wins all 20 blocks
    assert r.groups == [("best",), ("worst",)]


def test_higher_is_better_primary_ranks_the_largest_first() -> None:
    runs = _runs({"ring8": {"many": [8.0, 7.0, 8.0], "few": [2.0, 3.0, 1.0]}}, metric="modes_covered")
    r = overall_ranking(runs, {"ring8": "modes_covered"}, NAME)
    assert r.mean_ranks.to_dict() == {"many": 1.0, "few": 2.0}


def test_identical_contenders_are_one_group_and_one_contender_is_not_tested() -> None:
    same = {d: {"a": [1.0] * 5, "b": [1.0] * 5, "c": [1.0] * 5} for d in PRIMARY}
    runs = _runs(same)
    r = overall_ranking(runs, PRIMARY, NAME, _decisions(runs))
    assert r.friedman_p == 1.0 and r.groups == [("a", "b", "c")]
    assert r.mean_ranks.to_dict() == {"a": 2.0, "b": 2.0, "c": 2.0}
    alone = overall_ranking(_runs({d: {"a": [1.0] * 5} for d in PRIMARY}), PRIMARY, NAME)
    assert math.isnan(alone.friedman_p) and not alone.tested and alone.groups == [("a",)]
    assert alone.notes == ["1 contender(s) and 10 complete block(s): nothing to test"]


def test_replicate_ranks_show_rank_stability() -> None:
    values = {"a": [1.0, 1.1, 2.0, 2.1, 1.0, 1.0], "b": [2.0, 2.0, 1.0, 1.0, 2.0, 2.0]}
    ranks = ranking.replicate_ranks(_runs({"ring8": values}, replicates=3), "ring8", "w1_raw", NAME)
    assert ranks.to_dict(orient="index") == {
        "a": {"r0": 1.0, "r1": 2.0, "r2": 1.0},
        "b": {"r0": 2.0, "r1": 1.0, "r2": 2.0},
    }
