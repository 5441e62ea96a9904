"""The tuning checks of the report's validity box: each fires on a constructed case and stays silent on a
healthy one."""

from __future__ import annotations

import pandas as pd

import ganbench.report.tuning_checks as tuning_checks
from ganbench.report.ranking import namer
from ganbench.report.studies import StudySummary

NAME = namer(["adam"])


def _study(loss: str, best: dict[str, float], curve: list[tuple[int, float]] | None = None, **space: str):
    space = {"lr_min": "1e-05", "lr_max": "0.01", **space}
    return StudySummary("ring8", loss, "adam", "w1_raw", 0.1, best, {}, curve or [], space)


def test_search_edge_fires_near_a_bound() -> None:
    studies = [
        _study("low", {"lr_g": 1.2e-5, "lr_d": 1e-3}),  # 2.6 % of the log range above lr_min
        _study("high", {"lr_g": 1e-3, "lr_d": 0.0095}),
        _study("beta0", {"lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.0}, beta1="True"),
        _study("ok", {"lr_g": 1e-3, "lr_d": 2e-4, "beta1": 0.0}, beta1="[0.0, 0.5, 0.9]"),  # a list: categorical
        _study("mid", {"lr_g": 1e-4, "lr_d": 1e-3, "beta1": 0.45}, beta1="{'low': 0.0, 'high': 0.9}"),
    ]
    (finding,) = tuning_checks.search_edge(studies, NAME)
    assert finding.contenders == ("low", "high", "beta0")
    assert "low (lr_g 1.2e-05 at the min 1e-05)" in finding.detail
    assert "high (lr_d 0.0095 at the max 0.01)" in finding.detail and "beta1 0 at the min 0" in finding.detail


def test_on_edge_known_positions() -> None:
    assert tuning_checks.on_edge(1e-5 * 10**0.149, 1e-5, 1e-2, log=True) == "min"  # 5 % of 3 decades is 0.15
    assert tuning_checks.on_edge(1e-5 * 10**0.16, 1e-5, 1e-2, log=True) is None
    assert tuning_checks.on_edge(0.88, 0.0, 0.9, log=False) == "max"
    assert tuning_checks.continuous_range("{'uniform': [0.0, 0.9]}") == (0.0, 0.9)
    assert tuning_checks.continuous_range("False") is None and tuning_checks.continuous_range(None) is None


def test_tuning_budget_fires_when_best_so_far_still_falls() -> None:
    falling = [(1, 1.0), (2, 0.9), (3, 0.9), (4, 0.8), (5, 0.8), (6, 0.8), (7, 0.7), (8, 0.6)]
    saturated = [(1, 1.0), (2, 0.5), (3, 0.45), (4, 0.41), (5, 0.41), (6, 0.40), (7, 0.40), (8, 0.395)]
    studies = [_study("short", {}, falling), _study("enough", {}, saturated)]
    (finding,) = tuning_checks.tuning_budget(studies, NAME)
    assert finding.contenders == ("short",)
    assert "short (+25% in trials 7-8)" in finding.detail  # best at trial 6 is 0.8, at trial 8 0.6


def test_pruning_warns_when_the_rung_orders_finished_trials_unlike_the_end() -> None:
    check = pd.DataFrame(
        [
            {"dataset": "ring8", "rung": 2000, "pairs": 10, "concordant": 4, "tau": -0.2},
            {"dataset": "ring8", "rung": 4000, "pairs": 10, "concordant": 9, "tau": 0.8},
            {"dataset": "grid25", "rung": 2000, "pairs": 3, "concordant": 0, "tau": -1.0},
        ]
    )
    (finding,) = tuning_checks.pruning(pruning_check=check)
    assert finding.dataset == "ring8" and "step 2000: tau -0.20 over 10 pairs" in finding.detail
    assert "4000" not in finding.detail  # a strong rung is not named; grid25 has too few pairs to judge


def test_recipe_outside_names_the_loss_whose_paper_lr_the_range_excludes() -> None:
    studies = [_study(loss, {"lr_g": 1e-3, "lr_d": 1e-3}, lr_min="0.0002") for loss in ("wgan_gp", "hinge")]
    (finding,) = tuning_checks.recipe_outside(studies, NAME)
    assert (
        finding.contenders == ("wgan_gp",)
        and "lr 0.0001 (Gulrajani et al. 2017) outside [0.0002, 0.01]" in finding.detail
    )
