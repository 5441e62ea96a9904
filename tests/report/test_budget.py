"""Budget curves (Dodge et al. 2019) against brute force, the compute-matched view, and the pruning check."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest

from ganbench.report import budget


def brute_force_expected_best(values: list[float], k: int) -> float:
    """The mean of the best of every ordered draw of k trials with replacement (n^k of them)."""
    draws = list(itertools.product(values, repeat=k))
    return float(np.mean([min(d) for d in draws]))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_expected_best_equals_its_closed_form_and_the_enumeration(k: int) -> None:
    values = [0.9, 0.3, 0.5, 0.3, 1.2]
    assert budget.expected_best(values, k) == pytest.approx(brute_force_expected_best(values, k), rel=1e-12)
    # higher is better: the same on the negated values
    assert budget.expected_best(values, k, higher=True) == pytest.approx(
        -brute_force_expected_best([-v for v in values], k), rel=1e-12
    )
    # a pruned or diverged trial (no value) counts as the worst of the pool
    with_missing = [*values, None]
    assert budget.expected_best(with_missing, k) == pytest.approx(
        brute_force_expected_best([*values, max(values)], k), rel=1e-12
    )


def test_best_quantile_is_the_order_statistic() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert budget.best_quantile(values, 1, 0.5) == 2.0  # half the single draws are 1 or 2
    # the best of 2 is 1 with probability 1 - (3/4)^2 = 0.4375: the median best is 2
    assert budget.best_quantile(values, 2, 0.5) == 2.0
    assert budget.best_quantile(values, 2, 0.4) == 1.0


def study(loss: str, values: list[float | None], compute: float, replicate: int = 0, steps=None) -> SimpleNamespace:
    trials = [
        {
            "number": i,
            "status": "finished" if v is not None else "pruned",
            "value": v,
            "steps": (steps or {}).get(i, {}),
            "compute": compute,
        }
        for i, v in enumerate(values)
    ]
    return SimpleNamespace(
        dataset="ring8", loss=loss, strategy="adam_dcgan", objective="w1_raw", replicate=replicate, trials=trials
    )


def test_compute_matched_gives_the_cheap_contender_more_trials() -> None:
    """A contender whose trials cost 5x gets a fifth of the trials at equal compute: its expected best there is
    its expected best of 8 / 5 = 1.6 trials, and the ranks can swap."""
    cheap = [study("cheap", [0.5, 0.4, 0.6, 0.45], 10.0), study("cheap", [0.55, 0.42, 0.5, 0.48], 10.0, 1)]
    dear = [study("dear", [0.3, 0.32, 0.95, 0.9], 50.0), study("dear", [0.92, 0.31, 0.33, 0.94], 50.0, 1)]
    table = budget.compute_matched(cheap + dear, "ring8").set_index("loss")
    assert table.loc["dear", "trials"] == 4 and table.loc["dear", "gflop_per_trial"] == 50.0
    values = [t["value"] for s in dear for t in s.trials]
    assert table.loc["dear", "equal_trials"] == pytest.approx(budget.expected_best(values, 4))
    assert table.loc["dear", "equal_compute"] == pytest.approx(budget.expected_best(values, 4 * 10 / 50))
    assert table.loc["dear", "rank_trials"] == 1 and table.loc["dear", "rank_compute"] == 2


def test_compute_matched_reports_the_share_of_diverged_trials() -> None:
    """A diverged trial counts as the worst of the pool; the table says how many there were, so a loss that is
    hard to tune but trains well from its best setting can be read apart from one that is poor everywhere."""
    shaky = study("shaky", [0.1, None, None, 0.2], 1.0)
    for t in shaky.trials[1:3]:
        t["status"] = "diverged"
    steady = study("steady", [0.3, 0.3, 0.35, 0.4], 1.0)
    table = budget.compute_matched([shaky, steady], "ring8").set_index("loss")
    assert table.loc["shaky", "diverged_share"] == 0.5 and table.loc["steady", "diverged_share"] == 0.0
    assert table.loc["shaky", "equal_trials"] == pytest.approx(budget.expected_best([0.1, 0.2, 0.2, 0.2], 4))


def test_pruning_check_counts_pairs_ordered_as_at_the_end() -> None:
    steps = {0: {"10": 1.0}, 1: {"10": 2.0}, 2: {"10": 3.0}, 3: {"10": 0.5}}
    s = study("hinge", [0.1, 0.2, 0.15, None], 1.0, steps=steps)  # trial 3 was pruned at step 10
    check = budget.pruning_check([s])
    (row,) = check.itertuples()
    assert row.rung == 10 and row.pairs == 3  # the three trials that ran to the end
    # rung order 0 < 1 < 2; end order 0 < 2 < 1: pairs (0,1), (0,2) agree, (1,2) does not
    assert row.concordant == 2 and row.tau == pytest.approx(1 / 3)
    assert math.isnan(budget.expected_best([], 2))
