"""The headline: the verdict's lines name the best and the decisions."""

from __future__ import annotations

from ganbench.report.headline import BELIEVED, warning_lines
from tests.report.test_validity import BEST, SAME, WORSE, _result


def test_headline_names_the_best_and_the_decisions() -> None:
    result = _result({"best": BEST, "same": SAME, "worse": WORSE})
    ring8, overall, unmeasured = result.headline
    assert ring8.startswith(
        "ring8 (w1_raw, lower is better; 1 replicate × 10 seeds: conditional on one tuning draw; "
        "no ROPE: real data always scores the same): best best 0.145 ["
    )
    assert "undecided (could be equivalent, better or worse): same; practically worse: worse" in ring8
    assert overall.startswith("Ranking on ring8 (the only dataset) (Friedman p = ")
    assert "lowest mean rank same (mean rank 1.30)" in overall
    assert unmeasured.startswith("The tuning's variance is unmeasured")
    assert warning_lines([]) == [BELIEVED]
