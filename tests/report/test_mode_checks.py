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
