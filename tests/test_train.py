"""The trainer: determinism, divergence as a result, checkpoint/resume, population equivalence."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.testing import assert_close

from ganbench.config import Member, RunConfig
from ganbench.losses import LOSSES
from ganbench.models import ModelConfig
from ganbench.optim import StackedAdam, StackedRMSprop
from ganbench.train import Tracker, Trainer, train

TINY = RunConfig(
    loss="non_saturating",
    strategy="adam_dcgan",
    dataset="ring8",
    model=ModelConfig(width=16, depth=2),
    steps=60,
    eval_every=20,
    eval_samples=200,
    batch_size=32,
)


def test_same_seed_same_metrics_to_the_last_digit():
    a = train(TINY, [Member(3, 1e-3, 1e-3)])[0]
    b = train(TINY, [Member(3, 1e-3, 1e-3)])[0]
    c = train(TINY, [Member(4, 1e-3, 1e-3)])[0]
    assert a.metrics == b.metrics
    assert a.metrics["fid_raw"] != c.metrics["fid_raw"]


def test_nan_loss_ends_the_run_as_diverged_not_an_exception():
    (result,) = train(dataclasses.replace(TINY, loss="lsgan"), [Member(0, 1e6, 1e6)])
    assert result.status == "diverged"
    assert result.diverged_step == 10  # the first check after the NaN (checks run every 10 steps)
    assert result.metrics["diverged"] == 1.0
    assert not {"w1_raw", "fid_raw"} & set(result.metrics)  # no final quality value for a diverged run


def test_diverged_member_is_frozen_and_others_continue():
    members = [Member(0, 1e6, 1e6), Member(1, 1e-3, 1e-3)]
    pop = train(dataclasses.replace(TINY, loss="lsgan"), members)
    alone = train(dataclasses.replace(TINY, loss="lsgan"), [members[1]])
    assert [r.status for r in pop] == ["diverged", "finished"]
    assert pop[1].metrics == pytest.approx(alone[0].metrics, rel=1e-5)


class PruneFirst(Tracker):
    """Prunes member 0 at its first evaluation."""

    def on_eval(self, member, step, metrics, samples):
        return member == 0


def test_stopped_members_are_dropped_from_the_stacked_model_and_the_others_are_unchanged():
    """A pruned member (0) and a diverged one (1) leave the stacked tensors; members 2 and 3 end as trained
    alone (float64), so dropping rows changes nothing for the rest."""
    members = [Member(0, 1e-3, 1e-3), Member(1, 1e6, 1e6), Member(2, 1e-3, 2e-3), Member(3, 3e-4, 1e-3, beta1=0.3)]
    config = dataclasses.replace(TINY, loss="lsgan", strategy="adam_dcgan+ema")
    pop = Trainer(config, members, dtype=torch.float64, tracker=PruneFirst())
    results = pop.run()
    assert [r.status for r in results] == ["pruned", "diverged", "finished", "finished"]
    assert pop.rows == [2, 3]
    for module in (pop.g, pop.d, pop.g_ema):
        assert {p.shape[0] for p in module.parameters()} == {2}
    assert {b.shape[0] for b in pop.opt_g.state["exp_avg"]} == {2} and pop.opt_d.lr.shape == (2,)
    for m, (result, params) in zip(members[2:], [(results[2], 0), (results[3], 1)]):
        alone = Trainer(config, [m], dtype=torch.float64)
        (expected,) = alone.run()
        assert result.metrics == pytest.approx(expected.metrics, rel=1e-6)
        for p_pop, p_alone in zip(pop.g_ema.parameters(), alone.g_ema.parameters()):
            assert_close(p_pop[params], p_alone[0], rtol=1e-6, atol=1e-8)


def test_a_dropped_member_keeps_its_checkpoint_and_a_resume_drops_it_again(tmp_path):
    members = [Member(1, 1e6, 1e6), Member(2, 1e-3, 1e-3)]
    config = dataclasses.replace(TINY, loss="lsgan")
    ckpts = [tmp_path / "a.pt", tmp_path / "b.pt"]
    first = Trainer(dataclasses.replace(config, steps=40), members, checkpoints=ckpts)
    first.run()
    state = torch.load(ckpts[0], weights_only=True)
    assert (state["step"], state["status"]) == (40, "diverged") and state["diverged_step"] < 40
    resumed = Trainer(config, members, checkpoints=ckpts)
    results = resumed.run()
    assert resumed.rows == [1] and resumed.step == 60
    assert results[0].status == "diverged" and results[0].diverged_step == state["diverged_step"]
    (alone,) = train(config, [members[1]])
    assert results[1].metrics == pytest.approx(alone.metrics, rel=1e-5)


def test_a_resumed_population_with_a_pruned_member_ends_exactly_as_one_never_stopped(tmp_path):
    """Pruned at an evaluation that is not a divergence-check step (15): dropped there in both runs, so the
    resumed population computes with the same rows, to the last digit. (4 members, then 3: the narrow-layer
    path switches off with the drop, so rows that differed would show in the rounding.)"""
    config = dataclasses.replace(TINY, steps=45, eval_every=15)
    members = [Member(s, 1e-3, 1e-3) for s in range(4)]
    full = Trainer(config, members, tracker=PruneFirst()).run()
    ckpts = [tmp_path / f"{s}.pt" for s in range(4)]
    Trainer(dataclasses.replace(config, steps=15), members, tracker=PruneFirst(), checkpoints=ckpts).run()
    resumed = Trainer(config, members, tracker=PruneFirst(), checkpoints=ckpts).run()
    assert [r.status for r in resumed] == [r.status for r in full] == ["pruned"] + ["finished"] * 3
    assert [r.metrics for r in resumed[1:]] == [r.metrics for r in full[1:]]


class Recorder(Tracker):
    def __init__(self):
        self.evals = []

    def on_eval(self, member, step, metrics, samples):
        self.evals.append((member, step, metrics["w1_raw"]))  # the primary metric of 2-D data
        return False


def test_evaluates_on_schedule_and_reports_stability():
    rec = Recorder()
    (result,) = train(TINY, [Member(0, 1e-3, 1e-3)], tracker=rec)
    assert [s for _, s, _ in rec.evals] == [20, 40, 60]
    assert result.metrics["best_w1_raw"] == min(v for *_, v in rec.evals)
    assert result.metrics["gap_w1_raw"] == pytest.approx(rec.evals[-1][2] - result.metrics["best_w1_raw"])
    assert "fid_raw" in result.metrics  # still reported, as a column
    for key in ("grad_norm_d", "grad_norm_g", "loss_d_oscillation", "loss_d", "loss_g"):
        assert result.metrics[key] > 0


def test_killed_and_resumed_run_ends_with_the_same_metrics(tmp_path):
    config = dataclasses.replace(TINY, strategy="adam_dcgan+ema")
    full = train(config, [Member(0, 1e-3, 1e-3)])[0]
    ckpt = [tmp_path / "run.pt"]
    # the first process stops after its second checkpoint (step 40) ...
    partial = Trainer(dataclasses.replace(config, steps=40), [Member(0, 1e-3, 1e-3)], checkpoints=ckpt)
    partial.run()
    state = torch.load(ckpt[0], weights_only=True)
    assert state["step"] == 40
    # ... and a new one resumes from it
    resumed = Trainer(config, [Member(0, 1e-3, 1e-3)], checkpoints=ckpt)
    (result,) = resumed.run()
    assert resumed.step == 60
    assert result.metrics == full.metrics


CUDA = pytest.param(
    "cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
)


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("loss", LOSSES.names())
def test_population_member_follows_the_run_trained_alone(loss, device):
    """Float64: a member of a population of 4 ends with the same parameters as the same run alone (4 members
    on the CPU: the population takes the narrow-layer path, the run alone the plain batched matmul)."""
    config = dataclasses.replace(TINY, loss=loss, steps=200, eval_every=100)
    members = [Member(0, 1e-3, 2e-3), Member(1, 3e-4, 1e-3, beta1=0.3), Member(2, 1e-4, 1e-4), Member(3, 1e-3, 1e-3)]
    pop = Trainer(config, members, device=device, dtype=torch.float64)
    pop_results = pop.run()
    alone = Trainer(config, [members[1]], device=device, dtype=torch.float64)
    (alone_result,) = alone.run()
    for p_pop, p_alone in zip(
        list(pop.g.parameters()) + list(pop.d.parameters()), list(alone.g.parameters()) + list(alone.d.parameters())
    ):
        assert_close(p_pop[1], p_alone[0], rtol=1e-6, atol=1e-8)
    assert pop_results[1].metrics == pytest.approx(alone_result.metrics, rel=1e-6)


def test_linear_decay_reaches_zero_at_the_last_step_and_is_constant_before():
    config = RunConfig("hinge", "adam_dcgan", "ring8", steps=100, lr_decay_from=0.5)
    assert [config.lr_factor(s) for s in (0, 49, 50, 75, 99)] == pytest.approx([1, 1, 1, 0.5, 0.02])
    assert RunConfig("hinge", "adam_dcgan", "ring8", steps=100).lr_factor(99) == 1.0


def test_an_unset_decay_leaves_the_run_key_of_older_stores_and_a_set_one_changes_it():
    plain = RunConfig("hinge", "adam_dcgan", "ring8")
    assert "lr_decay_from" not in plain.flat()
    # the key this run had before the option existed (computed at commit 37d6553)
    assert Member(0, 1e-3, 1e-3).key(plain) == "e70846c7745ee735"
    decayed = dataclasses.replace(plain, lr_decay_from=0.5)
    assert decayed.flat()["lr_decay_from"] == 0.5
    assert Member(0, 1e-3, 1e-3).key(decayed) != Member(0, 1e-3, 1e-3).key(plain)


@pytest.mark.parametrize("kind", ["adam", "rmsprop"])
def test_a_decayed_run_takes_the_scaled_steps_of_a_plain_optimizer(kind):
    """Each update of a decayed member equals torch.optim's with lr * factor(step); the last one is not zero."""
    config = RunConfig(
        "hinge",
        "adam_dcgan" if kind == "adam" else "rmsprop_wgan",
        "ring8",
        model=ModelConfig(width=8, depth=1),
        steps=6,
        batch_size=4,
        eval_every=6,
        lr_decay_from=0.5,
        n_critic=1,
    )
    trainer = Trainer(config, [Member(0, 1e-2, 1e-2)])
    seen = []
    step = trainer.opt_g.step

    def record(active):
        seen.append(trainer.opt_g.lr_scale)
        return step(active)

    trainer.opt_g.step = record
    trainer.run()
    assert seen == pytest.approx([1, 1, 1, 1, 2 / 3, 1 / 3])
    w = torch.randn(1, 3, dtype=torch.float64)
    stacked, single = torch.nn.Parameter(w.clone()), torch.nn.Parameter(w[0].clone())
    if kind == "adam":
        opt = StackedAdam([stacked], torch.tensor([1e-2], dtype=torch.float64), torch.tensor([0.5]), 0.999)
        ref = torch.optim.Adam([single], lr=1e-2, betas=(0.5, 0.999))
    else:
        opt = StackedRMSprop([stacked], torch.tensor([1e-2], dtype=torch.float64))
        ref = torch.optim.RMSprop([single], lr=1e-2)
    for scale in (1.0, 0.5, 0.0):
        grad = torch.randn(1, 3, dtype=torch.float64)
        stacked.grad, single.grad = grad, grad[0].clone()
        opt.lr_scale = scale
        for group in ref.param_groups:
            group["lr"] = 1e-2 * scale
        before = stacked.detach().clone()
        opt.step(torch.tensor([True]))
        ref.step()
        assert_close(stacked.detach()[0], single.detach())
    assert_close(stacked.detach(), before, rtol=0, atol=0)  # factor 0: no move
