"""The report's one model on constructed tables whose answer is known: equal contenders are not declared
different, a real difference beyond the ROPE is found, intervals and decisions agree, the groups of the
critical-difference diagram agree with the pairwise decisions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ganbench.report import inference as I


def table(
    rng: np.random.Generator, mean: float, replicates: int, seeds: int, tuning: float = 0.02, seed_sd: float = 0.01
) -> np.ndarray:
    """``[replicates, seeds]`` values: a replicate's tuning luck shared by its seeds, plus seed noise."""
    return mean + rng.normal(0, tuning, (replicates, 1)) + rng.normal(0, seed_sd, (replicates, seeds))


def test_twins_are_not_declared_different_and_share_the_chance_of_being_best() -> None:
    """Two contenders drawn from one distribution (a loss and its twin under another name): over many studies,
    a twin is declared practically worse or better in well under 5 % of them (the decision level is 0.95 per
    side, and the ROPE only makes it rarer), and each twin's p_best averages one half."""
    rng = np.random.default_rng(0)
    decisions, p_first = [], []
    for _ in range(400):
        a, b = table(rng, 0.05, 3, 4), table(rng, 0.05, 3, 4)
        decisions.append(I.compare(a, b, rope=0.0145).decision)
        p_first.append(I.chance_best(I.posterior_means(np.stack([a, b]), draws=800))[0])
    different = np.mean([d in (I.WORSE, I.BETTER) for d in decisions])
    assert different < 0.05, different
    assert abs(np.mean(p_first) - 0.5) < 0.05
    # the same twins with 40 replicates and a ROPE wider than their tuning noise: equivalent, not just undecided
    a, b = table(rng, 0.05, 40, 4), table(rng, 0.05, 40, 4)
    pair = I.compare(a, b, rope=0.0145)
    assert pair.decision == I.EQUIVALENT and pair.unit == "replicate" and pair.units == 40
    low, high = I.difference_interval(a, b)
    assert -0.0145 < low < high < 0.0145  # the decision is where the 95 % interval lies


def test_a_difference_beyond_the_rope_is_found_and_matches_the_t_test() -> None:
    rng = np.random.default_rng(1)
    best, worse = table(rng, 0.05, 3, 4), table(rng, 0.25, 3, 4)
    pair = I.compare(worse, best, rope=0.0145)
    assert pair.decision == I.WORSE and pair.unit == "replicate" and pair.units == 3
    # its probability is the one-sided paired t-test over replicate means, against the ROPE's edge
    d = (worse - best).mean(axis=1)
    expected = stats.ttest_1samp(d, 0.0145, alternative="greater").pvalue
    np.testing.assert_allclose(1 - pair.p_worse, expected, rtol=1e-6, atol=1e-15)
    assert I.compare(best, worse, rope=0.0145).decision == I.BETTER
    low, high = I.difference_interval(worse, best)
    assert 0.0145 < low < high


def test_one_replicate_compares_paired_seeds() -> None:
    rng = np.random.default_rng(2)
    best, worse = table(rng, 1.0, 1, 8, tuning=0.0, seed_sd=0.1), table(rng, 2.0, 1, 8, tuning=0.0, seed_sd=0.1)
    pair = I.compare(worse, best, rope=0.05)
    assert pair.unit == "seed" and pair.units == 8 and pair.decision == I.WORSE
    values = np.stack([best, worse])
    low, high = I.interval(values)
    expected = stats.t.interval(0.95, 7, loc=best.mean(), scale=stats.sem(best[0]))
    np.testing.assert_allclose([low[0], high[0]], expected, rtol=1e-9)


def test_an_interval_stays_inside_the_metric_range() -> None:
    """HQ % of 98, 99.5, 100: the symmetric t interval reaches past 100; clipped, it ends at 100, its lower end
    is unchanged, and a contender with one unit keeps no interval at all."""
    from ganbench import metrics as M

    values = np.array([[[98.0], [99.5], [100.0]], [[50.0], [np.nan], [np.nan]]])
    raw_low, raw_high = I.interval(values)
    assert raw_high[0] > 100
    low, high = I.interval(values, bounds=M.bounds_of(M.HIGH_QUALITY))
    assert high[0] == 100.0 and low[0] == raw_low[0] and np.isnan(low[1]) and np.isnan(high[1])
    assert M.bounds_of("kid_domain") == (None, None) and M.bounds_of("gap_w1_raw") == (None, None)
    assert M.bounds_of("w1_raw") == (0.0, None) and M.bounds_of("precision_domain") == (0.0, 1.0)


def test_p_best_interval_and_decision_are_one_posterior() -> None:
    """The marginal of the posterior draws is the t interval, and the pairwise probability is the share of draws
    in which the difference lies beyond the ROPE."""
    rng = np.random.default_rng(3)
    values = np.stack([table(rng, m, 4, 3) for m in (0.05, 0.06, 0.2)])
    draws = I.posterior_means(values, draws=200_000)
    low, high = I.interval(values)
    np.testing.assert_allclose(np.percentile(draws, [2.5, 97.5], axis=0), np.stack([low, high]), rtol=0.02)
    pair = I.compare(values[1], values[0], rope=0.005)
    np.testing.assert_allclose(np.mean(draws[:, 1] - draws[:, 0] > 0.005), pair.p_worse, atol=0.005)
    p = I.chance_best(draws)
    assert p.sum() == pytest.approx(1.0) and p[2] < 0.01 and p[0] > p[1]


def test_missing_units_leave_a_pair_undecided() -> None:
    a = np.array([[1.0, np.nan, np.nan]])
    pair = I.compare(a, np.array([[0.0, 0.1, 0.2]]), rope=0.0)
    assert pair.decision == I.UNDECIDED and pair.units == 1


def test_groups_are_exactly_the_cliques_of_the_joined_relation() -> None:
    """Every group holds only pairs the decisions did not separate, and every such pair shares a group, even
    when the relation is not an interval of the rank order (a, c separated; b joined to both; d joined to a and
    c only)."""
    order = ["a", "b", "c", "d"]
    separated = {("a", "c"), ("b", "d")}
    joined = {(x, y): (x, y) not in separated and (y, x) not in separated for x in order for y in order if x != y}
    groups = I.maximal_groups(order, joined)
    assert sorted(groups) == sorted([("a", "b"), ("b", "c"), ("a", "d"), ("c", "d")])
    for x in order:
        for y in order:
            if x < y:
                together = any(x in g and y in g for g in groups)
                assert together == joined[(x, y)], (x, y)
