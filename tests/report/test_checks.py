"""The validity checks' registry (ganbench.report.checks): one decorated function per check."""

from __future__ import annotations

import pandas as pd
import pytest

import ganbench.report.build  # noqa: F401 - imports every check module, as building a report does
from ganbench.report import checks
from ganbench.report.checks import CHECKS, KINDS, Evidence, check, run_checks


def test_every_kind_has_its_one_registered_check_and_the_report_runs_them_all() -> None:
    assert set(KINDS) == set(CHECKS)
    assert {
        "failed",
        "undertrained",
        "mode_collapse",
        "tuning_variance",
        "undecided",
        "mode_labels",
        "search_edge",
        "tuning_budget",
        "pruning",
        "recipe_outside",
    } <= set(KINDS)


def test_a_check_gets_what_its_parameters_name_and_a_first_check_opens_the_list(monkeypatch) -> None:
    monkeypatch.setattr(checks, "KINDS", {})
    monkeypatch.setattr(checks, "CHECKS", {})
    monkeypatch.setattr(checks, "_PRIORITY", {})

    @checks.check("late", "late label")
    def late(runs: pd.DataFrame) -> list[checks.Finding]:
        return [checks.Finding("late", "d", (), f"{len(runs)} runs")]

    @checks.check("early", "early label", first=True)
    def early(primary, modes) -> list[checks.Finding]:
        return [checks.Finding("early", "d", (), f"{dict(primary)} {dict(modes)}")]

    found = checks.run_checks(Evidence(runs=pd.DataFrame({"x": [1, 2, 3]}), primary={"d": "w1"}, modes={"d": 8}))
    assert [f.detail for f in found] == ["{'d': 'w1'} {'d': 8}", "3 runs"]
    assert found[1].text() == "late label on d: 3 runs"


def test_a_check_that_asks_for_evidence_nobody_gathers_is_refused_where_it_is_registered() -> None:
    with pytest.raises(TypeError, match="asks for \\['weather'\\]"):

        @check("bad", "bad")
        def bad(weather) -> list:
            return []

    assert "bad" not in CHECKS


def test_on_empty_evidence_every_check_is_silent() -> None:
    assert run_checks(Evidence()) == []
