"""The check on mode coverage still rising at the end of training."""

from __future__ import annotations

import ganbench.report.mode_checks as mode_checks
from tests.report.test_validity import NAME, _runs


def test_coverage_rising_fires_on_modes_still_found_at_the_end_and_not_on_settled_ones() -> None:
    rising = [(500, 400.0), (1000, 600.0), (1500, 700.0), (2000, 800.0)]  # last quarter: +14 %
    settled = [(500, 900.0), (1000, 990.0), (1500, 992.0), (2000, 994.0)]  # +0.2 %
    curves = {"rising": [rising] * 2 + [settled], "settled": [settled] * 3, "one_seed": [rising] + [settled] * 2}
    runs, histories = _runs(curves)
    (finding,) = mode_checks.coverage_rising(runs, histories, NAME)
    assert finding.kind == "coverage_rising" and finding.contenders == ("rising",)
    assert "rising (+14% in 2/3 seeds)" in finding.detail
    assert mode_checks.coverage_rising(runs, {}, NAME) == []  # no mode counts (a one-class set): no verdict


def test_off_modes_names_contenders_far_below_real_datas_high_quality_share_and_says_when_none_learned() -> None:
    import pandas as pd

    def summary(means: dict[str, float]) -> pd.DataFrame:
        rows = [
            {"dataset": "grid25", "metric": "high_quality_pct", "loss": k, "strategy": "s", "mean": v}
            for k, v in means.items()
        ]
        return pd.DataFrame(rows)

    real = pd.DataFrame([{"dataset": "grid25", "metric": "high_quality_pct", "mean": 98.8, "std": 0.2, "draws": 5}])
    (finding,) = mode_checks.off_modes(summary({"learned": 84.1, "edge": 49.5, "square": 13.1}), real, NAME)
    assert finding.kind == "off_modes" and finding.contenders == ("square",)  # 49.5 >= half of 98.8
    assert "square (13.1 %)" in finding.detail and "these rows compare GANs that did not learn" in finding.detail
    (none_learned,) = mode_checks.off_modes(summary({"a": 30.7, "b": 44.3}), real, NAME)
    assert none_learned.contenders == ("a", "b") and "this dataset's table is not a result" in none_learned.detail
    assert mode_checks.off_modes(summary({"learned": 84.1}), real, NAME) == []
    assert mode_checks.off_modes(summary({"square": 13.1}), real.iloc[0:0], NAME) == []  # real data not logged
