"""Stacked layers: the narrow-output linear layer and spectral normalization (its power iteration in training)."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from ganbench.config import Member, RunConfig
from ganbench.models import ModelConfig, _NarrowLinear, _spectral_normalized, create_models
from ganbench.population import FINISHED
from ganbench.train import train
from tests.models.helpers import _dcgan


@pytest.mark.parametrize("outputs", [1, 2, 4])
def test_narrow_linear_matches_a_batched_matmul_to_second_order(outputs):
    """The narrow-output layer (critic scores, 2-D points) is x @ w + b, and so are its gradient and the
    gradient of its gradient, which gradient penalties differentiate."""
    gen = torch.Generator().manual_seed(0)
    x, w, b = (
        torch.randn(s, generator=gen, dtype=torch.float64, requires_grad=True)
        for s in [(3, 5, 6), (3, 6, outputs), (3, 1, outputs)]
    )
    assert_close(_NarrowLinear.apply(x, w, b), torch.baddbmm(b, x, w))
    assert torch.autograd.gradcheck(_NarrowLinear.apply, (x, w, b))
    assert torch.autograd.gradgradcheck(_NarrowLinear.apply, (x, w, b))
    # a penalty on the input gradient, as WGAN-GP takes it, reaches the weights like the reference's does
    grads = []
    for f in (_NarrowLinear.apply, lambda x, w, b: torch.baddbmm(b, x, w)):
        (gx,) = torch.autograd.grad(f(x, w, b).square().sum(), x, create_graph=True)
        grads.append(torch.autograd.grad(gx.norm(), w))
    assert_close(grads[0], grads[1])


@pytest.mark.parametrize("members", [1, 4])
@pytest.mark.parametrize("model", ["mlp", "dcgan"])
def test_spectral_norm_discriminators_train(model, members):
    """Each training forward pass updates the power-iteration vector in place; backward must not need the
    old one (D(real) and D(fake) are two passes before one backward)."""
    if model == "mlp":
        config = RunConfig(
            loss="hinge",
            strategy="adam_dcgan",
            dataset="ring8",
            batch_size=16,
            steps=20,
            eval_every=10,
            eval_samples=100,
            model=ModelConfig(width=8, depth=2, spectral_norm=True),
        )
    else:
        config = RunConfig(
            loss="hinge",
            strategy="adam_dcgan",
            dataset="digits",
            batch_size=8,
            steps=4,
            eval_every=2,
            eval_samples=64,
            image_size=28,
            model=_dcgan(spectral_norm=True),
        )
    results = train(config, [Member(s, 1e-3, 1e-3) for s in range(members)])
    assert [r.status for r in results] == [FINISHED] * members


def test_spectral_norm_divides_by_the_top_singular_value():
    _, d = create_models(_dcgan(spectral_norm=True), (1, 32, 32), [0, 1], d_batch_norm=False)
    d(torch.randn(2, 4, 1, 32, 32))  # a training pass runs the power iteration (and must not fail)
    conv = d.convs[1]
    for _ in range(300):  # more power iterations, to convergence
        _spectral_normalized(conv.weight, conv._u, training=True)
    got = _spectral_normalized(conv.weight, conv._u, training=False)
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(start_dim=2), ord=2)
    assert_close(got, conv.weight / sigma[:, None, None, None, None], atol=1e-5, rtol=1e-3)
