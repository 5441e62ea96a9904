"""The strategy questions of the report (ganbench.report.questions): paired effects of one respect, and
whether the best strategy depends on the loss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganbench.report.questions import (
    BETTER,
    EQUAL,
    WORSE,
    best_by_loss,
    depends_lines,
    effects,
    loss_by_strategy,
    strategy_pairs,
)


def test_strategy_pairs_are_those_one_respect_apart():
    pairs = strategy_pairs(["tied", "ttur", "ttur+ema", "ttur_beta1", "ttur_nc5", "rmsprop", "adam_dcgan"])
    assert ("TTUR (separate lr_g, lr_d) vs one tied lr", "ttur", "tied") in pairs
    assert ("EMA of G vs none", "ttur+ema", "ttur") in pairs
    assert ("beta1 searched vs fixed", "ttur_beta1", "ttur") in pairs
    assert ("5 D steps vs 1", "ttur_nc5", "ttur") in pairs
    assert ("RMSprop vs Adam", "rmsprop", "ttur") in pairs
    named = {(a, b) for _, a, b in pairs}
    assert ("ttur+ema", "tied") not in named and ("ttur_beta1", "tied") not in named  # two respects apart
    assert not any("adam_dcgan" in (a, b) for a, b in named)  # a preset's space is the suite's


def _runs(values: dict[tuple[str, str, str], list[float]]) -> pd.DataFrame:
    rows = [
        {"dataset": d, "loss": loss, "strategy": s, "seed": seed, "status": "finished", "w1_raw": v}
        for (d, loss, s), vs in values.items()
        for seed, v in enumerate(vs)
    ]
    return pd.DataFrame(rows)


BASE = np.linspace(0.5, 0.9, 10)


def test_paired_effects_find_a_real_difference_and_none_where_there_is_none():
    runs = _runs(
        {
            ("ring8", "hinge", "ttur"): list(BASE - 0.1),  # lower W1 on every seed: TTUR better
            ("ring8", "hinge", "tied"): list(BASE),
            ("ring8", "lsgan", "ttur"): list(BASE + 0.1),  # worse on every seed
            ("ring8", "lsgan", "tied"): list(BASE),
            ("ring8", "wgan", "ttur"): list(BASE + np.tile([0.01, -0.01], 5)),  # noise around no effect
            ("ring8", "wgan", "tied"): list(BASE),
        }
    )
    found = {e.loss: e for e in effects(runs, {"ring8": "w1_raw"}, {("ring8", "w1_raw"): 0.02})}
    assert found["hinge"].verdict == BETTER and found["hinge"].diff == pytest.approx(0.1)
    assert found["hinge"].low > 0.02 and found["hinge"].units == 10 and found["hinge"].unit == "seed"
    assert found["lsgan"].verdict == WORSE and found["lsgan"].diff == pytest.approx(-0.1)
    assert found["wgan"].verdict == EQUAL  # ±0.01 around no effect, inside the ROPE of 0.02
    assert -0.02 < found["wgan"].low < found["wgan"].high < 0.02
    # one rule: each verdict is where the 95 % interval lies against the ROPE, so interval and mark agree
    for e in found.values():
        beyond = "better" if e.low > e.rope else "worse" if e.high < -e.rope else None
        inside = -e.rope < e.low and e.high < e.rope
        assert e.verdict == (beyond or ("equivalent" if inside else "undecided")), e


def test_whether_the_best_strategy_depends_on_the_loss():
    depends = _runs(
        {
            ("ring8", "hinge", "ttur"): list(BASE - 0.2),
            ("ring8", "hinge", "tied"): list(BASE),
            ("ring8", "lsgan", "ttur"): list(BASE + 0.2),
            ("ring8", "lsgan", "tied"): list(BASE),
        }
    )
    best = best_by_loss(depends, {"ring8": "w1_raw"})
    assert dict(zip(best["loss"], best["best"])) == {"hinge": "ttur", "lsgan": "tied"}
    assert "depends on the loss" in depends_lines(best)[0]
    same = _runs(
        {
            ("ring8", "hinge", "ttur"): list(BASE - 0.2),
            ("ring8", "hinge", "tied"): list(BASE),
            ("ring8", "lsgan", "ttur"): list(BASE - 0.2),
            ("ring8", "lsgan", "tied"): list(BASE),
        }
    )
    line = depends_lines(best_by_loss(same, {"ring8": "w1_raw"}))[0]
    assert "does not detectably depend on the loss" in line and "ttur is best or not practically worse" in line
    tied = _runs(
        {
            ("ring8", "hinge", "ttur"): list(BASE),
            ("ring8", "hinge", "tied"): list(BASE),
            ("ring8", "lsgan", "ttur"): list(BASE),
            ("ring8", "lsgan", "tied"): list(BASE),
        }
    )
    assert "cannot be answered" in depends_lines(best_by_loss(tied, {"ring8": "w1_raw"}))[0]


def test_the_loss_by_strategy_table_marks_the_best_strategy_of_each_loss():
    summary = pd.DataFrame(
        [
            {
                "dataset": "ring8",
                "loss": "hinge",
                "strategy": "ttur",
                "metric": "w1_raw",
                "mean": 0.1,
                "ci_low": 0.08,
                "ci_high": 0.12,
            },
            {
                "dataset": "ring8",
                "loss": "hinge",
                "strategy": "tied",
                "metric": "w1_raw",
                "mean": 0.2,
                "ci_low": 0.18,
                "ci_high": 0.22,
            },
        ]
    )
    best = pd.DataFrame([{"dataset": "ring8", "loss": "hinge", "best": "ttur", "tied": ("ttur",)}])
    cells, marks = loss_by_strategy(summary, "ring8", "w1_raw", best)
    assert cells.at["hinge", "ttur"] == "0.1 [0.08, 0.12]"
    assert marks.at["hinge", "ttur"] == "best" and marks.at["hinge", "tied"] == ""
