"""The terminal summary after a run: 80 columns, the tables first, the validity findings one line each, and the
verdict last, so that a 40-row screen ends on the answer."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
from rich.console import Console

from ganbench.report.terminal import WIDTH, console_view, print_summary, validity_line
from ganbench.report.validity import Finding
from tests.report.test_validity import BEST, SAME, WORSE
from tests.report.test_validity import _result as _suite_result

LOSSES = [
    "hinge",
    "non_saturating",
    "minimax",
    "lsgan",
    "wgan",
    "wgan_gp",
    "dragan",
    "r1",
    "relativistic",
    "feature_matching",
]
VERDICT = [
    "ring8 (w1_raw, lower is better; 3 replicates × 3 seeds; ROPE ±0.0145): best hinge 0.05 [0.04, 0.06] (95% "
    "interval), p_best 0.71; practically equivalent to it: r1; undecided: dragan; practically worse: the other 7",
    "Overall (Friedman p = 1e-05 over 6 blocks of dataset × replicate): lowest mean rank hinge (mean rank 2.10)",
]


def _result(findings: list[Finding]) -> SimpleNamespace:
    rows = []
    for rank, loss in enumerate(LOSSES, start=1):
        for metric, mean in (("w1_raw", 0.05 * rank), ("modes_covered", 8.0), ("high_quality_pct", 90.0)):
            rows.append(
                {
                    "dataset": "ring8",
                    "loss": loss,
                    "strategy": "adam_dcgan",
                    "metric": metric,
                    "mean": mean,
                    "ci_low": mean * 0.9,
                    "ci_high": mean * 1.1,
                    "rank": float(rank),
                    "best": rank == 1,
                    "vs_best": ["best", "equivalent", "undecided"][rank - 1] if rank < 4 else "worse",
                    "p_best": 1.0 / rank,
                    "diverged": 0.0,
                    "seeds": 9,
                    "replicates": 3,
                }
            )
    summary = pd.DataFrame(rows)
    return SimpleNamespace(
        summary=summary,
        runs=summary[["strategy"]],
        primary={"ring8": "w1_raw"},
        modes={"ring8": 8},
        notes={},
        findings=findings,
        headline=VERDICT,
        sections=[],
        files={"html": Path("/tmp/out/report/report.html")},
        report_dir=Path("/tmp/out"),
    )


FINDINGS = [
    Finding("mode_collapse", "ring8", tuple(LOSSES[3:]), "; ".join(f"{x} (1.5/8)" for x in LOSSES[3:])),
    Finding(
        "undecided",
        "grid25",
        (),
        "on w1_raw the best is undecided against 7 of 9 contenders (units: replicates): the table cannot tell "
        "them apart at this budget; more replicates would narrow it",
    ),
]


def _screen(result: SimpleNamespace) -> list[str]:
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    print_summary(result, console)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_the_screen_ends_on_the_verdict_after_the_tables_and_findings() -> None:
    lines = _screen(_result(FINDINGS))
    assert max(len(line) for line in lines) <= WIDTH
    text = [line.strip() for line in lines]
    table = next(i for i, line in enumerate(text) if line.startswith("1   hinge") and line.endswith("best"))
    validity, verdict = text.index("Validity"), text.index("Verdict")
    assert table < validity < verdict
    # the verdict's lines, wrapped under their bullets, are the last on the screen
    assert " ".join(text[verdict + 1 :]).replace("- ", "").split() == " ".join(VERDICT).split()
    assert "report: /tmp/out/report/report.html" in text


def test_each_finding_is_one_line_cut_at_the_edge() -> None:
    lines = _screen(_result(FINDINGS))
    start = [line.strip() for line in lines].index("Validity")
    assert lines[start + 1].startswith("- mode collapse on ring8: lsgan, wgan, wgan_gp, dragan, r1,")
    assert lines[start + 1].endswith("…") and len(lines[start + 1]) == WIDTH
    assert lines[start + 2] == "- most undecided against the best on grid25: more replicates would narrow it"
    assert lines[start + 3] == ""


def test_a_believed_table_says_so() -> None:
    lines = [line.strip() for line in _screen(_result([]))]
    assert lines[lines.index("Validity") + 1] == "- No validity warnings: the harness believes these tables."


def test_validity_line_names_kind_dataset_and_contenders() -> None:
    finding = Finding("undertrained", "grid25", ("r1", "relativistic"), "w1_raw improved by ...: r1 (+17%)")
    assert validity_line(finding) == "undertrained on grid25: r1, relativistic"


def test_failed_runs_are_shown_in_full_with_their_error() -> None:
    failed = Finding(
        "failed", "ring8", ("mine",), "mine (all 2/2 runs failed: RuntimeError: this loss only works on images)"
    )
    text = " ".join(" ".join(_screen(_result([failed, *FINDINGS]))).split())
    assert (
        "- runs failed (left out of the tables) on ring8: mine (all 2/2 runs failed: RuntimeError: this loss only "
        "works on images)" in text
    )


def test_a_log_file_gets_the_screen_without_trailing_spaces() -> None:
    """Redirected (not a terminal), the same lines as on screen, with no padding spaces after them."""
    out = io.StringIO()
    print_summary(_result(FINDINGS), Console(width=200, file=out, color_system=None))
    lines = out.getvalue().splitlines()
    assert lines == _screen(_result(FINDINGS))
    assert lines and not any(line.endswith(" ") for line in lines)


def test_terminal_summary_fits_80_columns() -> None:
    from rich.console import Console

    long = {"feature_matching_with_a_long_name": BEST, "relativistic": SAME, "wgan_gp": WORSE}
    # values whose CI takes many digits must not squeeze the modes, HQ and mark columns
    small = {k: [0.00123 + 1e-5 * v for v in vs] for k, vs in long.items()}
    for result in (
        _suite_result(long),
        _suite_result(long, strategy_names=True),
        _suite_result(small, strategy_names=True),
    ):
        console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
        print_summary(result, console)
        lines = console.export_text().splitlines()
        assert max(len(line) for line in lines) <= WIDTH
        text = "\n".join(lines)
        assert "w1_raw" in text and "8.0/8" in text and "90.0" in text and "report: /tmp/report.html" in text
        assert "Verdict" in text and "Validity" in text
        table = [line for line in lines if "8.0/8" in line]
        assert len(table) == 6 if len(result.runs["strategy"].unique()) > 1 else len(table) == 3
        assert all(" 90.0 " in line and line.rstrip().endswith(("best", "worse", "?", "equiv")) for line in table)
    narrow = Console(width=60, record=True, file=io.StringIO(), color_system=None)
    narrow.print(console_view(_suite_result(long)))
    assert max(len(line) for line in narrow.export_text().splitlines()) <= 60
    assert WIDTH == 80
