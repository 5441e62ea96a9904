"""Validity diagnostics on the trained runs: each fires on a constructed case and stays silent on a healthy one.
The constructed runs and results here are shared by the headline's and the terminal's tests."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

import ganbench.report.validity as validity
from ganbench.report.headline import headline
from ganbench.report.ranking import namer, overall_ranking
from ganbench.report.stats import describe

NAME = namer(["adam"])
PRIMARY = {"ring8": "w1_raw"}
STILL_FALLING = [(500, 1.0), (1000, 0.8), (1500, 0.6), (2000, 0.4)]  # last quarter: (0.6 - 0.4) / 0.6 = 33 %
FLAT = [(500, 1.0), (1000, 0.45), (1500, 0.41), (2000, 0.40)]  # last quarter: 2.4 %


def _runs(histories: dict[str, list[list[tuple[int, float]]]]) -> tuple[pd.DataFrame, dict[str, list]]:
    rows, by_run = [], {}
    for loss, seeds in histories.items():
        for seed, history in enumerate(seeds):
            run_id = f"{loss}-{seed}"
            rows.append(
                {
                    "dataset": "ring8",
                    "loss": loss,
                    "strategy": "adam",
                    "seed": seed,
                    "run_id": run_id,
                    "status": "finished",
                    "w1_raw": history[-1][1],
                }
            )
            by_run[run_id] = history
    return pd.DataFrame(rows), by_run


# ---------------------------------------------------------------------------------------------- undertrained
def test_last_quarter_gain_known_values() -> None:
    torch.testing.assert_close(validity.last_quarter_gain(STILL_FALLING, "w1_raw"), 0.2 / 0.6)
    # evaluations half a run apart: the gain is scaled to a quarter of training
    torch.testing.assert_close(validity.last_quarter_gain([(1000, 1.0), (2000, 0.5)], "w1_raw"), 0.5 * 0.5)
    torch.testing.assert_close(validity.last_quarter_gain([(10, 4.0), (20, 6.0)], "modes_covered"), 0.5 * 0.5)
    assert math.isnan(validity.last_quarter_gain([(2000, 0.4)], "w1_raw"))


def test_undertrained_fires_on_most_seeds_still_improving() -> None:
    runs, histories = _runs({"slow": [STILL_FALLING, STILL_FALLING, FLAT], "done": [FLAT, FLAT, STILL_FALLING]})
    (finding,) = validity.undertrained(runs, PRIMARY, histories, NAME)
    assert finding.kind == "undertrained" and finding.dataset == "ring8" and finding.contenders == ("slow",)
    assert "slow (+33% in 2/3 seeds)" in finding.detail


def test_undertrained_is_silent_on_converged_runs() -> None:
    runs, histories = _runs({"a": [FLAT] * 3, "b": [FLAT, FLAT, STILL_FALLING]})
    assert validity.undertrained(runs, PRIMARY, histories, NAME) == []


# with the learning rates decaying to 0 from half-way (evaluations every 1,000 steps of 8,000)
ANNEALED = [(1000, 1.0), (2000, 0.5), (3000, 0.41), (4000, 0.4), (6000, 0.3), (8000, 0.2)]  # flat before 4000
SETTLED = [(1000, 1.0), (2000, 0.8), (3000, 0.6), (4000, 0.4), (6000, 0.35), (8000, 0.34)]  # flat at the end
LEARNING = [(1000, 1.0), (2000, 0.8), (3000, 0.6), (4000, 0.4), (6000, 0.3), (8000, 0.2)]  # improving in both


def test_undertrained_under_lr_decay_needs_improvement_before_the_decay_and_at_the_end() -> None:
    """Annealing improves every run at the end, and sparse evaluations make the constant-rate phase look like
    it is still learning: a run counts as undertrained only when it improved over both last quarters."""
    curves = {"annealed": [ANNEALED] * 3, "learning": [LEARNING] * 3, "settled": [SETTLED] * 3}
    runs, histories = _runs(curves)
    (plain,) = validity.undertrained(runs, PRIMARY, histories, NAME)
    assert plain.contenders == ("annealed", "learning") and "quarter of training:" in plain.detail
    runs["lr_decay_from"] = 0.5
    (finding,) = validity.undertrained(runs, PRIMARY, histories, NAME)
    assert finding.contenders == ("learning",)
    # end: (0.3 - 0.2) / 0.3 = 33 %; before the decay: (0.6 - 0.4) / 0.6 = 33 %
    assert "learning (+33% in 3/3 seeds)" in finding.detail
    assert "before the learning rates decayed" in finding.detail
    assert validity.run_gain(SETTLED, "w1_raw", 0.5) < validity.UNDERTRAINED_MARGIN  # end: 2.9 %
    assert validity.run_gain(ANNEALED, "w1_raw", 0.5) < validity.UNDERTRAINED_MARGIN  # before: 2.4 %
    assert validity.before_decay(ANNEALED, 0.5) == ANNEALED[:4]
    assert validity.before_decay(ANNEALED, None) == ANNEALED
    # a constant-rate phase with one evaluation cannot be judged: the plain rule decides
    short = [(4000, 1.0), (6000, 0.8), (8000, 0.6)]
    assert validity.run_gain(short, "w1_raw", 0.5) == validity.last_quarter_gain(short, "w1_raw")


# ---------------------------------------------------------------------------------------------- tables
def _frame(values: dict[str, list[float]], metric: str = "w1_raw", extra: dict[str, list[float]] | None = None):
    rows = []
    for loss, vals in values.items():
        for seed, v in enumerate(vals):
            row = {
                "dataset": "ring8",
                "loss": loss,
                "strategy": "adam",
                "contender": f"{loss}|adam|ring8",
                "seed": seed,
                "status": "finished",
                "feature_space": "raw",
                "run_id": f"{loss}-{seed}",
                metric: v,
                "primary": metric,
            }
            row.update({k: v[seed] for k, v in (extra or {}).get(loss, {}).items()})
            rows.append(row)
    return pd.DataFrame(rows)


BEST = [0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.17, 0.18, 0.19]
SAME = [0.195, 0.105, 0.165, 0.115, 0.185, 0.125, 0.155, 0.135, 0.175, 0.145]  # BEST shuffled
WORSE = [0.5 + 0.01 * i for i in range(10)]


def test_mode_collapse_fires_below_three_quarters_of_the_modes() -> None:
    modes = {"full": {"modes_covered": [8.0] * 10}, "collapsed": {"modes_covered": [5.0, 6.0] * 5}}
    runs = _frame({"full": BEST, "collapsed": WORSE}, extra=modes)
    (finding,) = validity.mode_collapse(describe(runs), {"ring8": 8}, NAME)
    assert finding.contenders == ("collapsed",) and "collapsed (5.5/8)" in finding.detail
    assert validity.mode_collapse(describe(runs), {}, NAME) == []  # unknown number of modes: no verdict


def test_one_replicate_says_the_tuning_variance_is_unmeasured_and_undecided_fires() -> None:
    ten = _frame({"best": BEST, "same": SAME, "worse": WORSE})
    summary = describe(ten)
    (unmeasured,) = validity.tuning_variance(summary)
    assert unmeasured.kind == "tuning_variance" and "conditional on one tuning draw" in unmeasured.detail
    assert validity.undecided(summary, PRIMARY) == []  # 'worse' is decided: 1 of 2 undecided is not most
    three = _frame({name: [i + 0.1 * (k % 3) + 0.3 * (k % 2) for k in range(10)] for i, name in enumerate("abc")})
    three["w1_raw"] = three["w1_raw"] * 0 + np.random.default_rng(0).normal(1, 0.3, len(three))  # pure noise
    (found,) = validity.undecided(describe(three), PRIMARY)
    assert "undecided against 2 of 2 contenders (units: seeds)" in found.detail
    several = ten.assign(replicate=ten["seed"] % 2)
    assert validity.tuning_variance(describe(several)) == []


def test_tags_list_contenders_per_kind() -> None:
    findings = [
        validity.Finding("undertrained", "ring8", ("a", "b"), "x"),
        validity.Finding("tuning_variance", "grid25", (), "y"),
    ]
    tags = validity.validity_tags(findings)
    assert tags["ganbench.report.validity"] == "warnings"
    assert tags["ganbench.report.validity.undertrained"] == "ring8: a, b"
    assert tags["ganbench.report.validity.tuning_variance"] == "grid25: all"
    assert tags["ganbench.tuning_variance"].startswith("unmeasured")
    assert tags["ganbench.report.validity.mode_collapse"] == "none"
    assert validity.validity_tags([]) == {
        "ganbench.report.validity": "ok",
        "ganbench.tuning_variance": "measured",
        **{f"ganbench.report.validity.{k}": "none" for k in validity.KINDS},
    }


# ---------------------------------------------------------------------------------------------- headline, terminal
def _result(values: dict[str, list[float]], strategy_names: bool = False) -> SimpleNamespace:
    runs = _frame(values, extra={k: {"modes_covered": [8.0] * 10, "high_quality_pct": [90.0] * 10} for k in values})
    if strategy_names:
        runs = pd.concat([runs, runs.assign(strategy="adam_wgangp+ema", run_id=runs["run_id"] + "w")])
    summary = describe(runs)
    name = namer(runs["strategy"])
    ranking = overall_ranking(runs, PRIMARY, name)
    findings = validity.undecided(summary, PRIMARY)
    return SimpleNamespace(
        summary=summary,
        runs=runs,
        primary=PRIMARY,
        modes={"ring8": 8},
        notes={},
        ranking=ranking,
        findings=findings,
        files={"html": Path("/tmp/report.html")},
        report_dir=Path("/tmp"),
        headline=headline(summary, PRIMARY, ranking, findings, name),
    )


def test_mode_labels_fire_when_the_classifier_reads_held_out_modes_wrongly_too_often() -> None:
    runs = pd.DataFrame(
        {"dataset": ["stacked_digits", "stacked_digits", "digits"], "mode_label_accuracy": [0.87, 0.87, 0.99]}
    )
    (finding,) = validity.mode_labels(runs)
    assert finding.kind == "mode_labels" and finding.dataset == "stacked_digits"
    assert "87.0%" in finding.detail and "below 90%" in finding.detail
    assert validity.mode_labels(runs.assign(mode_label_accuracy=0.95)) == []
    assert validity.mode_labels(pd.DataFrame({"dataset": ["ring8"], "mode_label_accuracy": [float("nan")]})) == []
