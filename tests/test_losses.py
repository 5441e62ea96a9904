"""Every loss against its published formula (each loss's docstring names its paper) on fixed inputs, and one training
step per registry entry."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from ganbench.config import Member, RunConfig
from ganbench.losses import LOSSES, get_loss
from ganbench.models import ModelConfig
from ganbench.registry import RegistryError
from ganbench.rng import MemberRNG
from ganbench.train import train

D_REAL = torch.tensor([[1.5, -0.3, 0.7, 2.0], [0.1, 0.2, -1.0, 0.4]], dtype=torch.float64)
D_FAKE = torch.tensor([[-0.5, 0.8, -1.2, 0.1], [0.3, -0.6, 0.9, -2.0]], dtype=torch.float64)
sig = torch.sigmoid


def _mean(x):
    return x.mean(dim=-1)


def expected_minimax():
    d = -_mean(torch.log(sig(D_REAL))) - _mean(torch.log(1 - sig(D_FAKE)))
    g = _mean(torch.log(1 - sig(D_FAKE)))
    return d, g


def expected_non_saturating():
    d, _ = expected_minimax()
    return d, -_mean(torch.log(sig(D_FAKE)))


def expected_wgan():
    return _mean(D_FAKE) - _mean(D_REAL), -_mean(D_FAKE)


def expected_hinge():
    d = _mean(torch.relu(1 - D_REAL)) + _mean(torch.relu(1 + D_FAKE))
    return d, -_mean(D_FAKE)


def expected_relativistic():
    r = D_REAL - D_FAKE.mean(-1, keepdim=True)
    f = D_FAKE - D_REAL.mean(-1, keepdim=True)
    d = -_mean(torch.log(sig(r))) - _mean(torch.log(1 - sig(f)))
    g = -_mean(torch.log(sig(f))) - _mean(torch.log(1 - sig(r)))
    return d, g


FORMULAS = {
    "minimax": expected_minimax,
    "non_saturating": expected_non_saturating,
    "wgan": expected_wgan,
    "wgan_gp": expected_wgan,  # without D in context, no penalty
    "hinge": expected_hinge,
    "feature_matching": expected_non_saturating,  # without features, D's loss is non-saturating
    "dragan": expected_non_saturating,
    "relativistic": expected_relativistic,
    "r1": expected_non_saturating,
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_loss_matches_formula(name):
    terms = LOSSES.get(name)(D_REAL, D_FAKE)
    d, g = FORMULAS[name]()
    assert_close(terms.d_loss, d)
    assert_close(terms.g_loss, g)
    assert_close(terms.d_loss_real + terms.d_loss_fake, d)
    assert terms.d_loss.shape == (2,)  # one value per population member


@pytest.mark.parametrize("a,b,c", [(0.0, 1.0, 1.0), (-1.0, 1.0, 0.0)])
def test_lsgan_formula_with_targets(a, b, c):
    terms = LOSSES.get("lsgan")(D_REAL, D_FAKE, a=a, b=b, c=c)
    assert_close(terms.d_loss, 0.5 * _mean((D_REAL - b) ** 2) + 0.5 * _mean((D_FAKE - a) ** 2))
    assert_close(terms.g_loss, 0.5 * _mean((D_FAKE - c) ** 2))


def test_feature_matching_generator_loss():
    f_real = torch.arange(24, dtype=torch.float64).reshape(2, 4, 3)
    f_fake = torch.ones(2, 4, 3, dtype=torch.float64)
    terms = LOSSES.get("feature_matching")(D_REAL, D_FAKE, features_real=f_real, features_fake=f_fake)
    expected = ((f_real.mean(1) - f_fake.mean(1)) ** 2).sum(-1)
    assert_close(terms.g_loss, expected)


class LinearD:
    """D(x) = w . x: its input gradient is w everywhere, so gradient penalties have closed forms."""

    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return (x * self.w).sum(-1)


def _penalty_inputs():
    w = torch.tensor([[3.0, 4.0], [0.6, 0.8]], dtype=torch.float64)[:, None, :]  # norms 5 and 1
    rng = MemberRNG([0, 1])
    real = torch.randn(2, 4, 2, dtype=torch.float64)
    fake = torch.randn(2, 4, 2, dtype=torch.float64)
    return LinearD(w), real, fake, rng


def test_wgan_gp_penalty_closed_form():
    disc, real, fake, rng = _penalty_inputs()
    terms = LOSSES.get("wgan_gp")(disc(real), disc(fake), discriminator=disc, real=real, fake=fake, rng=rng)
    base = _mean(disc(fake)) - _mean(disc(real))
    assert_close(terms.d_loss, base + 10.0 * torch.tensor([16.0, 0.0], dtype=torch.float64))


def test_dragan_penalty_closed_form():
    disc, real, fake, rng = _penalty_inputs()
    terms = LOSSES.get("dragan")(disc(real), disc(fake), discriminator=disc, real=real, rng=rng, gp_weight=2.0)
    base = LOSSES.get("non_saturating")(disc(real), disc(fake)).d_loss
    assert_close(terms.d_loss, base + 2.0 * torch.tensor([16.0, 0.0], dtype=torch.float64))


def test_r1_combines_with_any_loss():
    disc, real, fake, rng = _penalty_inputs()
    spec = get_loss("hinge+r1")
    terms = spec(disc(real), disc(fake), discriminator=disc, real=real, fake=fake, rng=rng, gamma=4.0)
    base = LOSSES.get("hinge")(disc(real), disc(fake)).d_loss
    assert_close(terms.d_loss, base + 2.0 * torch.tensor([25.0, 1.0], dtype=torch.float64))
    assert spec.param_names() == ["gamma"]


def test_r1_alone_is_non_saturating_plus_r1():
    disc, real, fake, rng = _penalty_inputs()
    terms = LOSSES.get("r1")(disc(real), disc(fake), discriminator=disc, real=real, rng=rng)
    base = LOSSES.get("non_saturating")(disc(real), disc(fake)).d_loss
    assert_close(terms.d_loss, base + 5.0 * torch.tensor([25.0, 1.0], dtype=torch.float64))


def test_bad_combinations_and_params_fail_clearly():
    with pytest.raises(RegistryError, match="must be a penalty"):
        get_loss("hinge+wgan")
    with pytest.raises(ValueError, match="no parameter 'q'; valid: a, b, c"):
        get_loss("lsgan").check_params({"q": 1})


def test_every_loss_states_its_formula():
    for name in LOSSES.names():
        doc = LOSSES.get(name).fn.__doc__ or ""
        penalty_doc = (LOSSES.get(name).penalty.__doc__ or "") if LOSSES.get(name).penalty else ""
        assert "L_" in doc + penalty_doc or "gamma" in penalty_doc, name
        assert any(ch.isdigit() for ch in doc + penalty_doc), f"{name}: no paper year in docstring"


@pytest.mark.parametrize("name", LOSSES.names() + ["hinge+r1"])
def test_one_training_step_runs(name):
    config = RunConfig(
        loss=name,
        strategy="adam_dcgan",
        dataset="ring8",
        model=ModelConfig(width=16, depth=2),
        steps=2,
        eval_every=2,
        eval_samples=100,
        batch_size=32,
    )
    (result,) = train(config, [Member(0, 1e-3, 1e-3)])
    assert result.status == "finished"
    assert result.step == 2
    assert set(result.metrics) >= {"w1_raw", "fid_raw", "modes_covered", "high_quality_pct", "kl_uniform"}


def test_third_party_loss_registers_through_an_entry_point(tmp_path, monkeypatch):
    """A package declaring a ``ganbench.losses`` entry point adds its loss when ganbench loads plugins."""
    from ganbench.losses import PLUGIN_GROUP
    from ganbench.registry import load_entry_points

    (tmp_path / "my_gan_plugin.py").write_text(
        "from ganbench.losses import register_loss, non_saturating\n"
        "@register_loss('plugin_ns')\n"
        "def plugin_ns(d_real, d_fake):\n"
        "    '''Non-saturating, from a plugin (Goodfellow et al. 2014): L_D, L_G as non_saturating.'''\n"
        "    return non_saturating(d_real, d_fake)\n"
    )
    dist = tmp_path / "my_gan_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-gan-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{PLUGIN_GROUP}]\nplugin_ns = my_gan_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(LOSSES, "_entries", dict(LOSSES._entries))  # leave the real registry as it was
    assert load_entry_points(PLUGIN_GROUP) == ["plugin_ns"]
    terms = get_loss("plugin_ns")(D_REAL, D_FAKE)
    assert_close(terms.g_loss, expected_non_saturating()[1])
