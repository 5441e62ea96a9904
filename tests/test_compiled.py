"""The ``compile`` option: the D and G steps under torch.compile give what eager steps give, and a failure to
compile trains on eagerly with one warning line."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch

import ganbench.compiled as compiled
from ganbench.config import Member
from ganbench.plan import contenders, run_config
from ganbench.suite import load_suite
from ganbench.train import Trainer
from tests.conftest import TINY_SUITE, write_suite
from tests.test_train import TINY, PruneFirst

MEMBERS = [Member(0, 1e-3, 1e-3), Member(1, 3e-4, 1e-3, beta1=0.3), Member(2, 1e-3, 2e-3)]


def _train(config, **kwargs):
    trainer = Trainer(config, MEMBERS, dtype=torch.float64, tracker=PruneFirst(), **kwargs)
    return trainer, trainer.run()


def test_compile_is_a_suite_key_that_reaches_the_run_config_and_changes_no_key(tmp_path):
    path = write_suite(tmp_path / "s.yaml", TINY_SUITE)
    plain, compiled_suite = load_suite(str(path)), load_suite(str(path), overrides={"compile": "reduce-overhead"})
    assert plain.compile == "none" and compiled_suite.key() == plain.key()
    contender = contenders(compiled_suite)[0]
    config = run_config(compiled_suite, contender)
    assert config.compile == "reduce-overhead" and config.flat()["compile"] == "reduce-overhead"
    eager = run_config(plain, contender)
    assert "compile" not in eager.flat()  # logged only while set
    assert Member(0, 1e-3, 1e-3).key(config) == Member(0, 1e-3, 1e-3).key(eager)


@pytest.mark.parametrize("loss", ["lsgan", "wgan_gp", "feature_matching"])
def test_a_compiled_population_trains_as_an_eager_one(loss, monkeypatch):
    """Dynamo and AOT autograd without code generation (the ``aot_eager`` backend, seconds instead of a C++
    build): batch norm (lsgan), a gradient penalty (wgan_gp, whose double backward stays eager), D's features
    (feature_matching), and a member pruned at step 20 (new shapes: compiled again). Float64, same metrics."""
    monkeypatch.setattr(compiled, "compile_kwargs", lambda mode: {"backend": "aot_eager", "dynamic": False})
    config = dataclasses.replace(TINY, loss=loss, steps=40)
    eager, eager_results = _train(config)
    trainer, results = _train(dataclasses.replace(config, compile="default"))
    assert trainer._d_loss.active and trainer._g_loss.active  # compiled to the end: no fallback
    assert trainer.rows == [1, 2]
    for a, b in zip(results, eager_results, strict=True):
        assert a.status == b.status
        assert a.metrics == pytest.approx(b.metrics, rel=1e-9)


def _failing_backend(gm, example_inputs):
    raise RuntimeError("no C compiler here\nsecond line of a long story")


def test_a_step_that_fails_to_compile_trains_eagerly_with_one_warning_line(monkeypatch, caplog):
    monkeypatch.setattr(compiled, "compile_kwargs", lambda mode: {"backend": _failing_backend})
    monkeypatch.setattr(compiled, "_WARNED", set())
    config = dataclasses.replace(TINY, loss="wgan_gp", steps=40)  # its penalty draws: restored on the failure
    eager, eager_results = _train(config)
    with caplog.at_level(logging.WARNING, logger="ganbench.compiled"):
        trainer, results = _train(dataclasses.replace(config, compile="reduce-overhead"))
    assert not trainer._d_loss.active and not trainer._g_loss.active
    warnings = [r.getMessage() for r in caplog.records if r.name == "ganbench.compiled"]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert "torch.compile (mode reduce-overhead) failed, training eagerly" in warnings[0]
    assert "no C compiler here" in warnings[0] and "Traceback" not in caplog.text
    assert [r.metrics for r in results] == [r.metrics for r in eager_results]  # exactly: nothing drawn twice


@pytest.mark.slow
def test_inductor_compiled_steps_match_eager_steps():
    """The real thing on the CPU: inductor generates and builds C++ for both steps (tens of seconds)."""
    config = dataclasses.replace(TINY, loss="non_saturating", steps=10, eval_every=10)
    members = MEMBERS[:2]
    eager = Trainer(config, members, dtype=torch.float64).run()
    trainer = Trainer(dataclasses.replace(config, compile="default"), members, dtype=torch.float64)
    results = trainer.run()
    if not trainer._d_loss.active:
        pytest.skip("inductor cannot compile on this machine (the fallback test covers that)")
    for a, b in zip(results, eager, strict=True):
        assert a.metrics == pytest.approx(b.metrics, rel=1e-6)
