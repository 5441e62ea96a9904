"""What a study leaves for the report: its best-so-far curve over the counted trials."""

from __future__ import annotations


def test_the_budget_curve_counts_pruned_and_diverged_trials_but_not_failed_ones():
    """Best value after each counted trial, in trial order: a pruned (or diverged) trial spends budget but adds
    no value; a failed one is retried, so it spends none."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from ganbench.tuning import ContenderStudy

    study = optuna.create_study(direction="minimize")
    dist = {"lr_g": FloatDistribution(1e-4, 1e-2, log=True)}
    for state, value in [("COMPLETE", 3.0), ("PRUNED", None), ("FAIL", None), ("COMPLETE", 1.0), ("COMPLETE", 2.0)]:
        study.add_trial(create_trial(state=TrialState[state], value=value, params={"lr_g": 1e-3}, distributions=dist))
    holder = ContenderStudy.__new__(ContenderStudy)
    holder.study = study
    assert holder.budget_curve() == [3.0, 3.0, 1.0, 1.0]
