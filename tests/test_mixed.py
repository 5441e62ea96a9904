"""Mixed populations: members of other contenders (loss, its parameters, D steps) share one stacked model, and
each still ends as the same run trained alone."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.testing import assert_close

from ganbench.config import Member
from ganbench.losses import LOSSES
from ganbench.train import Trainer
from tests.test_train import TINY, PruneFirst

STEPS = dataclasses.replace(TINY, steps=40, eval_every=20)
# one member per bundled loss, with D steps 1 to 3 and own parameters (a clip, a penalty weight, lsgan's targets)
OWN = {
    "minimax": {"n_critic": 1},
    "non_saturating": {"n_critic": 2},
    "lsgan": {"n_critic": 1, "loss_params": {"a": -1.0, "b": 1.0, "c": 0.0}},
    "wgan": {"n_critic": 3},
    "wgan_gp": {"n_critic": 2},
    "hinge": {"n_critic": 3},
    "feature_matching": {"n_critic": 1},
    "dragan": {"n_critic": 1},
    "relativistic": {"n_critic": 2},
    "r1": {"n_critic": 1},
}
TUNED = {"wgan": {"weight_clip": 0.05}, "wgan_gp": {"gp_weight": 5.0}, "r1": {"gamma": 2.0}}


def _member(k: int, loss: str, config=STEPS) -> Member:
    own = dataclasses.replace(config, loss=loss, **OWN[loss])
    return Member(
        k, 1e-3 * (1 + k % 3), 2e-3 / (1 + k % 2), beta1=0.3 if k % 2 else None, loss_params=TUNED.get(loss), config=own
    )


def _alone(member: Member, config=STEPS, **kwargs):
    trainer = Trainer(
        member.run_config(config), [dataclasses.replace(member, config=None)], dtype=torch.float64, **kwargs
    )
    return trainer, trainer.run()[0]


def _same_member(pop: Trainer, row: int, alone: Trainer) -> None:
    pop_params = list(pop.g.parameters()) + list(pop.d.parameters())
    alone_params = list(alone.g.parameters()) + list(alone.d.parameters())
    for p_pop, p_alone in zip(pop_params, alone_params, strict=True):
        assert_close(p_pop[row], p_alone[0], rtol=1e-6, atol=1e-8)


@pytest.fixture(scope="module")
def mixed():
    members = [_member(k, loss) for k, loss in enumerate(LOSSES.names())]
    pop = Trainer(STEPS, members, dtype=torch.float64)
    return members, pop, pop.run()


@pytest.mark.parametrize("loss", LOSSES.names())
def test_a_member_of_a_mixed_population_follows_the_run_trained_alone(loss, mixed):
    """Float64: every bundled loss, inside a population of all ten (D steps 1 to 3, penalties next to plain
    losses, feature matching, a relativistic loss, weight clipping), ends with the parameters and metrics of
    the same run trained alone."""
    members, pop, results = mixed
    k = LOSSES.names().index(loss)
    alone, expected = _alone(members[k])
    assert results[k].status == expected.status == "finished"
    _same_member(pop, k, alone)
    assert results[k].metrics == pytest.approx(expected.metrics, rel=1e-6)
    assert members[k].key(STEPS) == dataclasses.replace(members[k], config=None).key(members[k].config)


def test_rmsprop_members_with_fewer_d_steps_keep_their_state_while_they_sit_out():
    """RMSprop updates every row's running average unless told not to; a member with 1 D step among members
    with 5 must not see its average decay in the other four. A member pruned at step 20 leaves the rows."""
    config = dataclasses.replace(STEPS, strategy="rmsprop_wgan", loss="wgan")
    members = [
        Member(0, 5e-4, 5e-4, config=dataclasses.replace(config, n_critic=5)),
        Member(1, 1e-3, 5e-4, config=dataclasses.replace(config, loss="hinge", n_critic=1)),
        Member(2, 5e-4, 1e-3, config=dataclasses.replace(config, loss="lsgan", n_critic=2)),
    ]
    pop = Trainer(config, members, dtype=torch.float64, tracker=PruneFirst())
    results = pop.run()
    assert [r.status for r in results] == ["pruned", "finished", "finished"] and pop.rows == [1, 2]
    for row, k in enumerate(pop.rows):
        alone, expected = _alone(members[k], config)
        _same_member(pop, row, alone)
        assert results[k].metrics == pytest.approx(expected.metrics, rel=1e-6)


def test_a_resumed_mixed_population_ends_as_one_never_stopped(tmp_path):
    """Adam's per-member step counts (members with fewer D steps count fewer) travel in the checkpoints."""
    members = [_member(0, "hinge"), _member(1, "minimax"), _member(2, "wgan")]
    full = Trainer(STEPS, members, dtype=torch.float64).run()
    ckpts = [tmp_path / f"{k}.pt" for k in range(3)]
    first = [dataclasses.replace(m, config=dataclasses.replace(m.config, steps=20)) for m in members]
    Trainer(dataclasses.replace(STEPS, steps=20), first, dtype=torch.float64, checkpoints=ckpts).run()
    resumed = Trainer(STEPS, members, dtype=torch.float64, checkpoints=ckpts)
    assert resumed.run()[0].step == 40
    assert resumed.opt_d.counts == [3 * 40, 1 * 40, 3 * 40]
    for a, b in zip(resumed._results(), full, strict=True):
        assert a.metrics == pytest.approx(b.metrics, rel=1e-9)


def test_members_that_differ_in_more_than_loss_and_d_steps_cannot_share_a_population():
    other = Member(1, 1e-3, 1e-3, config=dataclasses.replace(STEPS, batch_size=16))
    with pytest.raises(ValueError, match="differ in 'batch_size'; they may differ only in loss, loss_params, n_critic"):
        Trainer(STEPS, [Member(0, 1e-3, 1e-3), other])


@pytest.mark.parametrize("spectral_norm", [False, True])  # batch-norm statistics, then power-iteration vectors
def test_dcgan_members_of_a_mixed_population_keep_their_own_running_statistics(spectral_norm):
    """D steps a member sits out, a penalty's pass over other rows, and D's look at the real batch in the G
    step of relativistic and feature-matching losses are forward passes the member would not make alone: its
    buffers (batch norm's running statistics, spectral norm's vectors) end as alone all the same. With spectral
    norm, a gradient penalty (wgan_gp, differentiating D on its own rows only) joins too.

    The tolerance is wider than the MLPs' (atol 1e-7): a convolution's bias followed by batch norm has a
    gradient that is 0 but for rounding, and Adam scales that rounding noise up to steps of ~1e-8 (the bias and
    the running mean after it); every other weight and statistic agrees to 1e-10."""
    from ganbench.models import ModelConfig

    config = dataclasses.replace(
        STEPS,
        dataset="digits",
        model=ModelConfig(name="dcgan", width=8, latent_dim=16, spectral_norm=spectral_norm),
        steps=4,
        eval_every=2,
        eval_samples=64,
        batch_size=8,
    )
    losses = ["hinge", "relativistic", "feature_matching"] + ["wgan_gp"] * spectral_norm
    members = [_member(k, loss, config) for k, loss in enumerate(losses)]
    pop = Trainer(config, members, dtype=torch.float64)
    results = pop.run()
    for k, member in enumerate(members):
        alone, expected = _alone(member, config)
        for module, other in [(pop.g, alone.g), (pop.d, alone.d)]:
            for a, b in zip(module.state_dict().values(), other.state_dict().values(), strict=True):
                assert_close(a[k], b[0], rtol=1e-6, atol=1e-7)  # buffers included
        assert results[k].metrics == pytest.approx(expected.metrics, rel=1e-6)


def test_added_penalty_and_plain_losses_cannot_share_a_dcgan_with_batch_norm():
    from ganbench.models import ModelConfig

    config = dataclasses.replace(STEPS, dataset="digits", model=ModelConfig(name="dcgan", width=8, latent_dim=16))
    members = [_member(0, "hinge", config), _member(1, "r1", config)]  # r1's D has no batch norm
    with pytest.raises(ValueError, match="must agree on D's batch norm"):
        Trainer(config, members)
