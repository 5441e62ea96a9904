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


def test_a_dataset_no_contender_learned_is_marked_not_a_result_in_its_verdict() -> None:
    from ganbench.report.checks import Finding
    from ganbench.report.headline import headline
    from ganbench.report.mode_checks import NOT_A_RESULT

    result = _result({"best": BEST, "same": SAME, "worse": WORSE})
    summary, primary = result.summary, {"ring8": "w1_raw"}
    name = lambda loss, strategy: loss  # noqa: E731
    unlearned = Finding("off_modes", "ring8", ("best", "same", "worse"), f"...; {NOT_A_RESULT}")
    some = Finding("off_modes", "ring8", ("worse",), "...; these rows compare GANs that did not learn the data")
    (marked, *_) = headline(summary, primary, None, [unlearned], name)
    assert marked.startswith("ring8 (") and marked.endswith(
        "; NOT A RESULT: no contender learned the data (samples off the modes)"
    )
    (plain, *_) = headline(summary, primary, None, [some], name)
    assert "NOT A RESULT" not in plain


def test_the_overall_line_says_which_pooled_datasets_are_not_a_result() -> None:
    from ganbench.report.checks import Finding
    from ganbench.report.headline import headline
    from ganbench.report.mode_checks import NOT_A_RESULT

    result = _result({"best": BEST, "same": SAME, "worse": WORSE})
    summary, primary = result.summary, {"ring8": "w1_raw"}
    name = lambda loss, strategy: loss  # noqa: E731
    unlearned = Finding("off_modes", "ring8", ("best", "same", "worse"), f"...; {NOT_A_RESULT}")
    _, overall, _ = headline(summary, primary, result.ranking, [unlearned], name)
    assert overall.startswith("Ranking on ring8") and overall.endswith("; it pools ring8, whose table is not a result")
    _, plain, _ = headline(summary, primary, result.ranking, [], name)
    assert "not a result" not in plain
