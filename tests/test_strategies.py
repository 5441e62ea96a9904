"""Strategies say what they fix and what the tuner searches (issue: compare optimizer strategies), and the
report's strategy questions: paired effects, the best strategy per loss, the loss x strategy table."""

from __future__ import annotations

import dataclasses

import optuna
import pandas as pd
import pytest
import torch

from ganbench.cli import main
from ganbench.config import Member, RunConfig
from ganbench.models import ModelConfig
from ganbench.strategies import Strategy, get_strategy, search_space
from ganbench.suite import TuningSpec
from ganbench.train import Trainer
from tests.conftest import TINY_SUITE, write_suite

SPEC = TuningSpec(trials=4, lr_min=1e-4, lr_max=1e-2)


def test_each_strategy_states_its_search_space():
    assert list(search_space(get_strategy("tied"), SPEC)) == ["lr"]
    assert list(search_space(get_strategy("ttur"), SPEC)) == ["lr_g", "lr_d"]
    assert search_space(get_strategy("ttur_beta1"), SPEC)["beta1"] == ("choice", [0.0, 0.5, 0.9])
    lucic = search_space(get_strategy("lucic"), SPEC)
    assert lucic["n_critic"] == ("choice", [1, 5]) and 0.0 in lucic["beta1"][1]  # WGAN-GP's recipe is reachable
    assert list(search_space(get_strategy("rmsprop"), SPEC)) == ["lr_g", "lr_d"]
    # a preset leaves the space to the suite's tuning section, as before strategies had a search
    assert list(search_space(get_strategy("adam_dcgan"), SPEC)) == ["lr_g", "lr_d"]
    wide = TuningSpec(trials=4, beta1=[0.0, 0.5], n_critic=[1, 5])
    assert list(search_space(get_strategy("adam_dcgan"), wide)) == ["lr_g", "lr_d", "beta1", "n_critic"]
    assert list(search_space(get_strategy("ttur"), wide)) == ["lr_g", "lr_d"]  # the strategy fixes the rest
    assert search_space(get_strategy("ttur_beta1"), wide)["beta1"] == ("choice", [0.0, 0.5])


@pytest.mark.parametrize(
    "search, message",
    [
        (("lr", "lr_g"), "needs 'lr' (tied) or both 'lr_g' and 'lr_d'"),
        (("lr_g",), "needs 'lr' (tied) or both"),
        (("lr", "momentum"), "cannot search 'momentum'; valid: lr, lr_g, lr_d, beta1, n_critic"),
        (("lr", "lr"), "names a parameter twice"),
    ],
)
def test_an_impossible_search_is_refused(search, message):
    with pytest.raises(ValueError) as err:
        Strategy("bad", "adam", 1e-3, 1e-3, search=search)
    assert message in str(err.value)


def test_rmsprop_cannot_search_beta1():
    with pytest.raises(ValueError, match="beta1 is Adam's; rmsprop has none"):
        Strategy("bad", "rmsprop", 1e-3, 1e-3, search=("lr", "beta1"))


TWO_STRATEGIES = TINY_SUITE.replace("name: tiny", "name: strat").replace("[non_saturating, hinge]", "[hinge]")
TWO_STRATEGIES = TWO_STRATEGIES.replace("[adam_dcgan]", "[tied, ttur_beta1]") + (
    "tuning: {trials: 3, batch: 3, lr_min: 1.0e-4, lr_max: 1.0e-2, pruner: none}\n"
)


def test_a_tied_study_searches_one_rate_and_ttur_two_with_equal_trials(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", TWO_STRATEGIES)
    assert main(["run", "--suite", str(suite), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    storage = f"sqlite:///{tmp_path / 'o' / 'optuna.db'}"
    studies = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
    params = {}
    for name in studies:
        trials = optuna.load_study(study_name=name, storage=storage).trials
        params["tied" if "|tied|" in name else "ttur_beta1"] = [set(t.params) for t in trials]
    assert params["tied"] == [{"lr"}] * 3
    assert params["ttur_beta1"] == [{"lr_g", "lr_d", "beta1"}] * 3
    report = (tmp_path / "o" / "report" / "summary.md").read_text()
    assert "## Tuning" in report and "lr log [0.0001, 0.01] (fixed: beta1 0.5, n_critic 1)" in report
    assert "lr_g log [0.0001, 0.01]; lr_d log [0.0001, 0.01]; beta1 {0, 0.5, 0.9} (fixed: n_critic 1)" in report
    # the tuned tied rate is what both of its final runs trained with
    runs = pd.read_csv(tmp_path / "o" / "report" / "runs.csv")
    assert "## Strategies" in report and "beta1 searched vs fixed" not in report  # tied vs ttur_beta1: 2 respects
    assert len(runs) == 4


def test_ema_strategies_evaluate_the_averaged_generator():
    """The same seed trains the same weights with or without EMA; what is evaluated differs, and is G_ema's."""
    config = RunConfig(
        "hinge",
        "ttur",
        "ring8",
        model=ModelConfig(width=8, depth=1),
        steps=20,
        batch_size=8,
        eval_every=20,
        eval_samples=50,
    )
    plain = Trainer(config, [Member(0, 1e-2, 1e-2)])
    plain.run()
    ema = Trainer(dataclasses.replace(config, strategy="ttur+ema"), [Member(0, 1e-2, 1e-2)])
    ema.run()
    for a, b in zip(plain.g.parameters(), ema.g.parameters()):
        torch.testing.assert_close(a, b)
    evaluated = ema.generate(50)
    with torch.no_grad():
        z_plain = plain.generate(50)
    assert not torch.allclose(evaluated, z_plain)
    ema.g, ema.g_ema = ema.g_ema, None  # the averaged weights as the trained generator: the same samples
    torch.testing.assert_close(ema.generate(50), evaluated)


def _exit(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:
        return int(stop.code)


def test_bad_strategy_names_and_options_exit_2_with_one_line(tmp_path, capsys):
    for strategies, message in [
        ("[ttur+swa]", "unknown strategy option 'swa' in 'ttur+swa'; valid: ema"),
        ("[adamw]", "unknown strategy 'adamw'; valid: adam_dcgan"),
    ]:
        text = TWO_STRATEGIES.replace("[tied, ttur_beta1]", strategies)
        suite = write_suite(tmp_path / "bad.yaml", text)
        assert _exit(["run", "--suite", str(suite), "--out", str(tmp_path / "x"), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
    plugin = tmp_path / "bad_strategy.py"
    plugin.write_text(
        "from ganbench import Strategy, register_strategy\n"
        "register_strategy(Strategy('both', 'adam', 1e-3, 1e-3, search=('lr', 'lr_g')))\n"
    )
    suite = write_suite(tmp_path / "ok.yaml", TWO_STRATEGIES)
    code = _exit(["run", "--suite", str(suite), "--plugin", str(plugin), "--out", str(tmp_path / "y")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "bad_strategy.py" in err and "search needs 'lr' (tied)" in err and "\n" not in err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
