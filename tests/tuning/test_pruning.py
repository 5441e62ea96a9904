"""Synchronous successive halving: members of a population are judged together at a rung."""

from __future__ import annotations

import optuna
import pytest


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]])
def test_halving_keeps_the_better_half_whatever_order_the_population_reported_in(order):
    """Members of one population all report a rung before any is judged: the better half goes on, whichever
    reported first (Optuna's asynchronous successive halving always promoted the first)."""
    from ganbench.tuning import HalvingPruner

    study = optuna.create_study(pruner=HalvingPruner(first=10, last=40))
    trials = [study.ask() for _ in range(4)]
    values = [0.4, 0.1, 0.3, float("nan")]  # lower is better; NaN (diverged) is the worst
    for i in order:
        trials[i].report(values[i], 10)
    assert [t.should_prune() for t in trials] == [True, False, False, True]
    for t, v in zip(trials, [0.5, 0.2, 0.3, 0.9]):
        t.report(v, 30)  # 30 is no rung (10, 20), and 40 is the end: nobody is judged there
        assert not t.should_prune()
    later = study.ask()  # a later population meets the four values at the rung: it must be in the best 3 of 5
    later.report(0.35, 10)
    assert later.should_prune() is False
    worse = study.ask()
    worse.report(0.45, 10)
    assert worse.should_prune() is True


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0]])
def test_a_population_judges_its_trials_after_all_of_them_reported_the_rung(order):
    """TrialTracker.stops reports every trial's mean (over its tuning seeds) before it asks the pruner about any:
    asked in one loop, the first trial of a study would be judged against itself alone and always go on (the
    bundled run kept the worse of two trials that way)."""
    from ganbench.tuning import HalvingPruner
    from ganbench.tuning.pruning import TrialTracker

    study = optuna.create_study(pruner=HalvingPruner(first=10, last=40))
    asked = [study.ask() for _ in range(3)]
    trials = [asked[i] for i in order]  # the population's order of trials
    values = {id(asked[0]): (0.9, 0.7), id(asked[1]): (0.2, 0.4), id(asked[2]): (0.5, 0.3)}  # 2 seeds each
    tracker = TrialTracker(trials, [0, 0, 1, 1, 2, 2], "w1_raw")
    for t, trial in enumerate(trials):
        for seed, value in enumerate(values[id(trial)]):
            tracker.values[(2 * t + seed, 10)] = value
    stopped = tracker.stops(10)
    worst = trials.index(asked[0])  # mean 0.8 against 0.3 and 0.4: the one of three outside the better half
    assert tracker.pruned_trials == {worst} and stopped == [2 * worst, 2 * worst + 1]
    reported = {t.number: t.intermediate_values[10] for t in study.get_trials(deepcopy=False)}
    assert reported == {0: pytest.approx(0.8), 1: pytest.approx(0.3), 2: pytest.approx(0.4)}
