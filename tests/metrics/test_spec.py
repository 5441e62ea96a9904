"""One MetricSpec per metric: direction, objectives, the report's order and kinds all derive from it."""

from __future__ import annotations

import pytest

from ganbench import metrics as M
from ganbench.report.frame import DIAGNOSTICS, TABLE_EXCLUDE, metric_columns
from ganbench.suite import load_suite


def test_direction_of_every_name_and_its_best_and_gap_variants() -> None:
    assert M.is_higher_better("modes_covered") and M.is_higher_better("best_high_quality_pct")
    assert M.is_higher_better("precision_domain") and M.is_higher_better("gap_recall_raw")
    assert M.is_higher_better("is_inception")
    assert not M.is_higher_better("w1_raw") and not M.is_higher_better("best_fid_domain")
    assert not M.is_higher_better("kl_uniform") and not M.is_higher_better("never_declared")
    assert M.spec_of("best_fid_inception").name == "fid" and M.spec_of("fid_nowhere") is None


def test_a_registered_metric_becomes_an_objective_a_ranked_column_and_a_direction(monkeypatch) -> None:
    monkeypatch.setattr(M, "METRICS", dict(M.METRICS))
    assert "sharpness" not in M.objectives()
    M.register_metric(M.MetricSpec("sharpness", "edge sharpness", higher_is_better=True, objective=True))
    assert "sharpness" in M.objectives() and M.is_higher_better("best_sharpness")
    tuning = {
        "name": "s",
        "losses": ["hinge"],
        "datasets": ["ring8"],
        "tuning": {"trials": 2, "objective": "sharpness"},
    }
    assert load_suite(tuning).tuning.objective == "sharpness"


def test_an_objective_nobody_declared_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(Exception, match=r"unknown objective 'w1_domain'; valid: .*w1_raw.*modes_covered"):
        load_suite(
            {"name": "s", "losses": ["hinge"], "datasets": ["ring8"], "tuning": {"trials": 2, "objective": "w1_domain"}}
        )


def test_the_report_orders_distances_then_coverage_then_the_rest_then_diagnostics() -> None:
    import pandas as pd

    cols = [
        "grad_norm_d",
        "w1_raw",
        "kl_uniform",
        "modes_covered",
        "fid_raw",
        "high_quality_pct",
        "loss_d",
        "best_w1_raw",
        "compute_gflop",
        "wall_seconds",
    ]
    order = metric_columns(pd.DataFrame(columns=cols))
    assert order == [
        "fid_raw",
        "modes_covered",
        "high_quality_pct",
        "kl_uniform",
        "w1_raw",
        "best_w1_raw",
        "compute_gflop",
        "grad_norm_d",
    ]
    assert {"loss_d", "wall_seconds"} <= TABLE_EXCLUDE and "compute_gflop" in DIAGNOSTICS


def test_curves_detail_columns_resources_and_order_come_from_the_spec(monkeypatch) -> None:
    from ganbench.report.frame import _metric_order

    assert M.in_curves("fid_domain") and M.in_curves("modes_covered") and M.in_curves("recall_raw")
    assert not M.in_curves("w1_raw") and not M.in_curves("is_inception") and not M.in_curves("best_fid_domain")
    assert M.detail_only("fid_raw") and M.detail_only("gap_w1_raw") and not M.detail_only("fid_domain")
    assert M.resources() == {M.COMPUTE, M.WALL}
    monkeypatch.setattr(M, "METRICS", dict(M.METRICS))
    M.register_metric(M.MetricSpec("sharpness", "edge sharpness", True, ("domain",), first=True, curve=True))
    assert M.in_curves("sharpness_domain") and _metric_order("sharpness_domain")[0] == 0  # with FID and KID
    assert _metric_order("modes_covered")[0] == 1 and _metric_order("w1_raw")[0] == 2


def test_a_spec_fixes_its_metrics_decimals_in_every_table_else_the_values_choose(monkeypatch) -> None:
    import pandas as pd

    from ganbench.report.tables import formats

    summary = pd.DataFrame(
        {
            "dataset": ["d", "d", "d", "d"],
            "metric": pd.Categorical(["w1_raw", "w1_raw", "sharpness", "sharpness"]),
            "mean": [0.0512, 0.0634, 12.345, 13.5],
        }
    )
    monkeypatch.setattr(M, "METRICS", dict(M.METRICS))
    M.register_metric(M.MetricSpec("sharpness", "edge sharpness", True))
    assert formats(summary, "d") == {"w1_raw": 4, "sharpness": 1}  # three significant digits of the means
    M.register_metric(M.MetricSpec("sharpness", "edge sharpness", True, decimals=3))
    assert formats(summary, "d") == {"w1_raw": 4, "sharpness": 3}
    assert M.decimals_of("best_sharpness") == 3 and M.decimals_of("gap_sharpness") is None


def test_list_metrics_says_what_each_is_its_role_and_its_names(capsys) -> None:
    from ganbench.cli import main

    main(["list", "metrics"])
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(lines) == set(M.METRICS)
    assert lines["fid"].endswith("ranked, lower is better; a tuning objective; as fid_raw, fid_domain, fid_inception")
    assert "high-quality samples, %; ranked, higher is better" in lines["high_quality_pct"]
    assert lines["grad_norm_d"].endswith("summarized, not ranked") and lines["wall_seconds"].endswith("a run's cost")
