"""The population's state as one component: a member's checkpoint is one dict, and loading such dicts back
gives the same state."""

from __future__ import annotations

import dataclasses

import torch

from ganbench.config import Member
from ganbench.population import PopulationState
from ganbench.train import Trainer
from tests.test_train import TINY


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if torch.is_tensor(a):  # a diverged member's weights hold NaN
        return a.shape == b.shape and a.dtype == b.dtype and bool(((a == b) | (a.isnan() & b.isnan())).all())
    return a == b


def test_a_member_state_is_one_dict_that_loads_back_into_a_new_population(tmp_path):
    config = dataclasses.replace(TINY, steps=20, eval_every=10, loss="lsgan", strategy="adam_dcgan+ema")
    members = [Member(0, 1e-3, 1e-3), Member(1, 1e6, 1e6), Member(2, 3e-4, 1e-3, beta1=0.3)]
    paths = [tmp_path / f"{i}.pt" for i in range(3)]  # with checkpoints, a dropped member's state is kept
    trained = Trainer(config, members, checkpoints=paths)
    trained.run()
    assert isinstance(trained.state, PopulationState) and trained.rows == [0, 2]  # member 1 diverged, dropped
    saved = [trained.state.member(i) for i in range(3)]
    assert saved[1]["status"] == "diverged" and saved[0]["step"] == saved[1]["step"] == 20
    # the files hold these dicts (the wall time grew after the last save, when the results were made)
    on_disk = [torch.load(p, weights_only=True) for p in paths]
    assert all(_equal({**f, "wall": 0}, {**s, "wall": 0}) for f, s in zip(on_disk, saved))

    fresh = Trainer(config, members, checkpoints=paths)  # not read: loaded from the dicts below
    fresh.state.load(saved)
    fresh.drop_stopped()
    assert fresh.rows == [0, 2] and fresh.step == 20
    assert _equal(fresh.state.member(0), saved[0]) and _equal(fresh.state.member(2), saved[2])
    # the dropped member: its own values back; the optimizers' shared step counts come from a member still
    # training (it is dropped again on a resume, so they are never used)
    dropped = fresh.state.member(1)
    assert all(_equal(dropped[k], saved[1][k]) for k in saved[1] if k not in ("opt_g", "opt_d"))
    assert _equal(dropped["opt_g"]["exp_avg"], saved[1]["opt_g"]["exp_avg"])


def test_stopping_a_row_records_why_and_when():
    trainer = Trainer(TINY, [Member(0, 1e-3, 1e-3), Member(1, 1e-3, 1e-3)])
    state = trainer.state
    state.step = 7
    state.stop(1, "diverged")
    state.stop(0, "pruned")
    assert state.status == ["pruned", "diverged"] and state.stopped_at == [7, 7]
    assert state.diverged_step == [None, 7] and not bool(state.active.any())
