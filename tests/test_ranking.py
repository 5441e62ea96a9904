"""The overall ranking (Friedman over (dataset, seed) blocks, Nemenyi, CD groups) on constructed tables whose
answer is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from scipy import stats

import ganbench.report.ranking as ranking
from ganbench.report.ranking import critical_difference, namer, overall_ranking

NAME = namer(["adam"])
PRIMARY = {"ring8": "w1_raw", "grid25": "w1_raw"}


def _runs(values: dict[str, dict[str, list[float]]], metric: str = "w1_raw") -> pd.DataFrame:
    """values[dataset][loss] = one value per seed; NaN is a diverged run."""
    rows = [{"dataset": d, "loss": loss, "strategy": "adam", "seed": seed, "run_id": f"{d}-{loss}-{seed}",
             "status": "diverged" if np.isnan(v) else "finished", metric: v}
            for d, losses in values.items() for loss, vals in losses.items() for seed, v in enumerate(vals)]  # fmt: skip
    return pd.DataFrame(rows)


def _table(n: int = 10) -> dict[str, dict[str, list[float]]]:
    """best wins every block, same1 and same2 are identical (tie in every block), worst loses every block."""
    rng = np.random.default_rng(0)
    out = {}
    for d in PRIMARY:
        base = rng.uniform(1, 2, n)
        out[d] = {
            "best": list(base - 0.5),
            "same1": list(base),
            "same2": list(base),
            "worst": list(base + 0.5),
        }
    return out


def test_known_ranking_groups_and_friedman_p() -> None:
    r = overall_ranking(_runs(_table()), PRIMARY, NAME)
    assert r.scope == "all datasets" and r.blocks == 20 and r.notes == []
    assert r.mean_ranks.to_dict() == {"best": 1.0, "same1": 2.5, "same2": 2.5, "worst": 4.0}
    # Friedman by hand: 12 N / (k (k + 1)) * sum (R_j - (k + 1) / 2)^2 = 12 * 4.5 = 54, over the tie correction
    # 1 - N (2^3 - 2) / (N k (k^2 - 1)) = 0.9, with k - 1 = 3 degrees of freedom
    torch.testing.assert_close(r.friedman_p, float(stats.chi2.sf(54 / 0.9, 3)))
    # CD = q_0.05(4) / sqrt 2 * sqrt(4 * 5 / (6 * 20)); rank gaps of 1.5 exceed it, the identical pair is joined
    torch.testing.assert_close(r.cd, 2.569 * math.sqrt(20 / 120), rtol=1e-3, atol=0)
    assert r.groups == [("best",), ("same1", "same2"), ("worst",)]
    assert r.table()["group"].tolist() == ["a", "b", "b", "c"]
    assert r.best_group() == ("best",)


def test_critical_difference_matches_demsar() -> None:
    # Demšar 2006, Table 5(a): q_0.05 = 3.164 for k = 10; REFERENCE.md: about 3 ranks for 20 blocks, 5.5 for 6
    torch.testing.assert_close(critical_difference(10, 20), 3.164 * math.sqrt(110 / 120), rtol=1e-3, atol=0)
    torch.testing.assert_close(critical_difference(10, 6), 3.164 * math.sqrt(110 / 36), rtol=1e-3, atol=0)


def test_a_diverged_run_ranks_last_in_its_block() -> None:
    table = _table(4)
    table["ring8"]["best"][2] = np.nan  # diverged: worst in that block, tied with nobody
    scores, notes = ranking.block_scores(_runs(table), PRIMARY, NAME)
    ranks = ranking.rank_blocks(scores)
    assert ranks.loc[("ring8", 2)].to_dict() == {"best": 4.0, "same1": 1.5, "same2": 1.5, "worst": 3.0}
    assert notes == [] and len(scores) == 8


def test_incomplete_blocks_are_dropped_and_said() -> None:
    runs = _runs(_table())
    runs = runs[~((runs["dataset"] == "ring8") & (runs["loss"] == "same1") & (runs["seed"] == 3))]
    r = overall_ranking(runs, PRIMARY, NAME)
    assert r.blocks == 19
    assert r.notes == ["1 incomplete block(s) dropped (a contender has no result): ring8 seed 3"]


def test_a_contender_missing_on_a_whole_dataset_is_left_out() -> None:
    table = _table()
    del table["grid25"]["worst"]
    r = overall_ranking(_runs(table), PRIMARY, NAME)
    assert list(r.mean_ranks.index) == ["best", "same1", "same2"] and r.blocks == 20
    assert r.notes == ["left out of the overall ranking, missing on a whole dataset: worst"]


def test_one_dataset_ranks_its_seeds() -> None:
    r = overall_ranking(_runs({"ring8": _table()["ring8"]}), {"ring8": "w1_raw"}, NAME)
    assert r.scope == "the seeds of ring8 (the only dataset)" and r.blocks == 10 and r.datasets == ("ring8",)


def test_two_contenders_use_the_exact_sign_test() -> None:
    table = {d: {k: v for k, v in losses.items() if k in ("best", "worst")} for d, losses in _table().items()}
    r = overall_ranking(_runs(table), PRIMARY, NAME)
    torch.testing.assert_close(r.friedman_p, 2 / 2**20)  # best wins all 20 blocks
    assert r.groups == [("best",), ("worst",)]


def test_higher_is_better_primary_ranks_the_largest_first() -> None:
    runs = _runs({"ring8": {"many": [8.0, 7.0, 8.0], "few": [2.0, 3.0, 1.0]}}, metric="modes_covered")
    r = overall_ranking(runs, {"ring8": "modes_covered"}, NAME)
    assert r.mean_ranks.to_dict() == {"many": 1.0, "few": 2.0}


def test_identical_contenders_are_one_group_and_one_contender_is_not_tested() -> None:
    same = {d: {"a": [1.0] * 5, "b": [1.0] * 5, "c": [1.0] * 5} for d in PRIMARY}
    r = overall_ranking(_runs(same), PRIMARY, NAME)
    assert r.friedman_p == 1.0 and r.groups == [("a", "b", "c")]
    assert r.mean_ranks.to_dict() == {"a": 2.0, "b": 2.0, "c": 2.0}
    alone = overall_ranking(_runs({d: {"a": [1.0] * 5} for d in PRIMARY}), PRIMARY, NAME)
    assert math.isnan(alone.friedman_p) and not alone.tested and alone.groups == [("a",)]
    assert alone.notes == ["1 contender(s) and 10 complete block(s): nothing to test"]


def test_not_significant_friedman_joins_everyone() -> None:
    rng = np.random.default_rng(1)
    noise = {d: {k: list(rng.uniform(size=3)) for k in "abcd"} for d in PRIMARY}
    r = overall_ranking(_runs(noise), PRIMARY, NAME)
    assert r.friedman_p >= ranking.ALPHA  # six blocks of noise: checked here so the next line means something
    assert r.groups == [tuple(r.mean_ranks.index)]


def test_groups_are_the_maximal_joined_runs() -> None:
    order = ["a", "b", "c", "d"]
    pos = {c: i for i, c in enumerate(order)}
    assert ranking.groups_from(order, lambda x, y: abs(pos[x] - pos[y]) <= 1) == [
        ("a", "b"),
        ("b", "c"),
        ("c", "d"),
    ]
    assert ranking.groups_from(order, lambda x, y: True) == [("a", "b", "c", "d")]


def test_cd_figure_draws_the_groups(tmp_path) -> None:
    import ganbench.report.plots as plots

    r = overall_ranking(_runs(_table()), PRIMARY, NAME)
    fig = plots.cd_figure(r.mean_ranks, ranking.joined_matrix(r), r.cd, "test")
    fig.savefig(tmp_path / "cd.png")
    lines = fig.axes[0].lines
    crossbars = [tuple(line.get_xdata()) for line in lines if line.get_linewidth() == 2]
    cd_bar = [tuple(line.get_xdata()) for line in lines if min(line.get_ydata()) > 0]  # above the axis
    assert crossbars == [(2.5, 2.5)]  # one bar, joining same1 and same2 (both at mean rank 2.5)
    assert cd_bar == [(1.0, 1.0 + r.cd)]  # the CD, from the best rank
