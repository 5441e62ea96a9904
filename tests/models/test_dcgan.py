"""The DCGAN pair: shapes, population equivalence, the D variants losses ask for, and training on image sets."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from ganbench.config import Member, RunConfig
from ganbench.losses import LOSSES
from ganbench.metrics import fid_key
from ganbench.models import StackedBatchNorm2d, create_models
from ganbench.population import FINISHED
from ganbench.train import Tracker, Trainer, train
from tests.models.helpers import _dcgan

IMAGE_SHAPES = [(1, 8, 8), (3, 8, 8), (1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32)]


@pytest.mark.parametrize("spectral_norm", [False, True])
@pytest.mark.parametrize("shape", IMAGE_SHAPES)
def test_dcgan_shapes(shape, spectral_norm):
    g, d = create_models(_dcgan(spectral_norm=spectral_norm), shape, [0, 1, 2])
    x = g(torch.randn(3, 5, 16)).detach()
    assert x.shape == (3, 5, *shape)
    assert float(x.abs().max()) <= 1  # tanh output
    scores, features = d.forward_with_features(x)
    assert scores.shape == (3, 5)
    assert features.shape[:2] == (3, 5) and features.dim() == 3
    d.eval()  # in training, every forward pass also advances spectral norm's power iteration
    assert_close(d(x), d.forward_with_features(x)[0])


@pytest.mark.parametrize("d_batch_norm", [True, False])
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_dcgan_population_member_equals_the_same_seed_alone(shape, d_batch_norm):
    config = _dcgan()
    g_pop, d_pop = create_models(config, shape, [11, 5, 7], d_batch_norm=d_batch_norm)
    g_one, d_one = create_models(config, shape, [5], d_batch_norm=d_batch_norm)
    z = torch.randn(3, 8, 16)
    for mode in ("train", "eval"):  # batch statistics, then running statistics
        for m in (g_pop, d_pop, g_one, d_one):
            m.train(mode == "train")
        x_pop, x_one = g_pop(z), g_one(z[1:2])
        assert_close(x_pop[1:2], x_one)
        assert_close(d_pop(x_pop.detach())[1:2], d_one(x_one.detach()))


def test_d_has_no_batch_norm_for_gradient_penalties_or_spectral_norm():
    _, d = create_models(_dcgan(), (1, 32, 32), [0], d_batch_norm=True)
    assert any(isinstance(m, StackedBatchNorm2d) for m in d.modules())
    _, d = create_models(_dcgan(), (1, 32, 32), [0], d_batch_norm=False)
    assert not any(isinstance(m, StackedBatchNorm2d) for m in d.modules())
    _, d = create_models(_dcgan(spectral_norm=True), (1, 32, 32), [0], d_batch_norm=True)
    assert not any(isinstance(m, StackedBatchNorm2d) for m in d.modules())


def test_gradient_penalty_backpropagates_through_dcgan_d():
    g, d = create_models(_dcgan(), (3, 32, 32), [0, 1], d_batch_norm=False)
    x = torch.randn(2, 4, 3, 32, 32, requires_grad=True)
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    penalty = (grad.flatten(start_dim=2).norm(dim=-1) - 1).pow(2).mean()
    penalty.backward()
    # (the penalty does not depend on biases: their gradients stay None)
    weights = [p for name, p in d.named_parameters() if name.endswith("weight")]
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in weights)


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES.names())
@pytest.mark.parametrize("dataset", ["digits", "stacked_digits", "polygons"])
def test_every_loss_trains_on_every_embedded_image_dataset(dataset, loss):
    config = RunConfig(
        loss=loss,
        strategy="adam_dcgan",
        dataset=dataset,
        model=_dcgan(),
        steps=2,
        eval_every=2,
        eval_samples=64,
        batch_size=8,
    )
    (result,) = train(config, [Member(0, 2e-4, 2e-4)])
    assert result.status == FINISHED and result.step == 2
    assert math.isfinite(result.metrics[fid_key("domain")])
    assert result.metrics["modes_covered"] >= 1


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["non_saturating", "wgan_gp"])  # D with batch norm, and without
def test_dcgan_population_member_trains_like_the_same_seed_alone(loss):
    """Float64 (in float32 the grouped convolution rounds differently from a single one, and Adam amplifies
    that to ~1e-4 after a step): a member of a population ends with the parameters of the same run alone."""
    config = RunConfig(
        loss=loss,
        strategy="adam_dcgan",
        dataset="digits",
        model=_dcgan(),
        steps=3,
        eval_every=3,
        eval_samples=64,
        batch_size=8,
    )
    members = [Member(4, 1e-3, 2e-3), Member(9, 2e-4, 3e-4)]
    pop, alone = (Trainer(config, members, dtype=torch.float64), Trainer(config, members[1:], dtype=torch.float64))
    pop_results, (alone_result,) = pop.run(), alone.run()
    for a, b in zip(pop.g.state_dict().values(), alone.g.state_dict().values()):
        assert_close(a[1], b[0], rtol=1e-6, atol=1e-8)
    for a, b in zip(pop.d.state_dict().values(), alone.d.state_dict().values()):
        assert_close(a[1], b[0], rtol=1e-6, atol=1e-8)
    assert pop_results[1].metrics == pytest.approx(alone_result.metrics, rel=1e-6)


class _PruneFirst(Tracker):
    def on_eval(self, member, step, metrics, samples):
        return member == 0


@pytest.mark.parametrize("spectral_norm", [False, True])  # batch-norm buffers, then power-iteration buffers
def test_dcgan_population_drops_a_pruned_member_with_its_buffers(spectral_norm):
    """Member 0 is pruned at step 2 and dropped; member 1 (its batch-norm running statistics or spectral-norm
    vectors included) ends as the same run alone, in float64."""
    config = RunConfig(
        loss="non_saturating",
        strategy="adam_dcgan",
        dataset="digits",
        model=_dcgan(spectral_norm=spectral_norm),
        steps=4,
        eval_every=2,
        eval_samples=64,
        batch_size=8,
    )
    members = [Member(4, 1e-3, 2e-3), Member(9, 2e-4, 3e-4)]
    pop = Trainer(config, members, dtype=torch.float64, tracker=_PruneFirst())
    alone = Trainer(config, members[1:], dtype=torch.float64)
    pop_results, (alone_result,) = pop.run(), alone.run()
    assert pop.rows == [1] and pop_results[0].status == "pruned"
    for module, other in [(pop.g, alone.g), (pop.d, alone.d)]:
        assert module.state_dict().keys() == other.state_dict().keys()
        for a, b in zip(module.state_dict().values(), other.state_dict().values()):
            assert_close(a, b, rtol=1e-6, atol=1e-8)  # buffers included, one row each
    assert pop_results[1].metrics == pytest.approx(alone_result.metrics, rel=1e-6)
