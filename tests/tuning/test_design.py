"""A study's first batch: a Latin hypercube over the search space, shared by contenders."""

from __future__ import annotations

import math

import pytest

from ganbench.tuning.design import first_batch

LUCIC = {
    "lr_g": ("log", (5e-5, 1e-2)),
    "lr_d": ("log", (5e-5, 1e-2)),
    "beta1": ("choice", [0.0, 0.5, 0.9]),
    "n_critic": ("choice", [1, 5]),
}


@pytest.mark.parametrize("seed", range(20))
def test_a_first_batch_tries_every_choice_and_spreads_each_rate_over_its_range(seed):
    """3 trials: beta1 0, 0.5 and 0.9 once each, both D steps, and one trial in each third of each learning
    rate's log range (random points fell together: all three once drew beta1 0.9 with 5 D steps)."""
    points = first_batch(LUCIC, 3, seed)
    assert sorted(p["beta1"] for p in points) == [0.0, 0.5, 0.9]
    assert {p["n_critic"] for p in points} == {1, 5}
    for name in ("lr_g", "lr_d"):
        thirds = sorted(int(3 * math.log(p[name] / 5e-5) / math.log(1e-2 / 5e-5)) for p in points)
        assert thirds == [0, 1, 2], (name, points)


def test_a_first_batch_is_set_by_its_seed_and_shared_dimensions_agree_across_spaces():
    assert first_batch(LUCIC, 3, 7) == first_batch(LUCIC, 3, 7)
    assert first_batch(LUCIC, 3, 7) != first_batch(LUCIC, 3, 8)
    with_gamma = first_batch({**LUCIC, "gamma": ("log", (0.1, 100.0))}, 3, 7)
    assert [{k: p[k] for k in LUCIC} for p in with_gamma] == first_batch(LUCIC, 3, 7)  # common random numbers
    assert all(0.1 <= p["gamma"] <= 100.0 for p in with_gamma)
    six = first_batch(LUCIC, 6, 7)
    assert sorted(p["beta1"] for p in six) == [0.0, 0.0, 0.5, 0.5, 0.9, 0.9]
    assert sorted(p["n_critic"] for p in six) == [1, 1, 1, 5, 5, 5]
    assert {first_batch(LUCIC, 1, s)[0]["beta1"] for s in range(30)} == {0.0, 0.5, 0.9}  # one trial: any choice
