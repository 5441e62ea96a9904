"""The image MLP pair: shapes, population equivalence, and every loss training it on stacked digits at 8x8."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from ganbench.config import Member, RunConfig
from ganbench.losses import LOSSES
from ganbench.metrics import fid_key
from ganbench.models import ModelConfig, create_models
from ganbench.population import FINISHED
from ganbench.train import train


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 8, 8), (3, 32, 32)])
def test_image_mlp_shapes_and_a_member_equals_the_same_seed_alone(shape):
    config = ModelConfig(name="image_mlp", width=16, depth=2, latent_dim=4)
    g_pop, d_pop = create_models(config, shape, [11, 5, 7])
    g_one, d_one = create_models(config, shape, [5])
    z = torch.randn(3, 6, 4)
    x = g_pop(z)
    assert x.shape == (3, 6, *shape) and float(x.detach().abs().max()) <= 1  # tanh output
    assert_close(x[1:2], g_one(z[1:2]))
    scores, features = d_pop.forward_with_features(x)
    assert scores.shape == (3, 6) and features.shape == (3, 6, 16)
    assert_close(scores[1:2], d_one(x[1:2]))
    with pytest.raises(ValueError, match="needs \\[C, H, W\\]"):
        create_models(config, (2,), [0])


@pytest.mark.slow
@pytest.mark.parametrize("loss", LOSSES.names())
def test_every_loss_trains_the_image_mlp_on_stacked_digits_at_8x8(loss):
    config = RunConfig(
        loss=loss,
        strategy="adam_dcgan",
        dataset="stacked_digits",
        image_size=8,
        steps=2,
        eval_every=2,
        eval_samples=64,
        batch_size=8,
        model=ModelConfig(name="image_mlp", width=16, depth=2, latent_dim=8),
    )
    (result,) = train(config, [Member(0, 2e-4, 2e-4)])
    assert result.status == FINISHED and result.step == 2
    assert math.isfinite(result.metrics[fid_key("domain")])
