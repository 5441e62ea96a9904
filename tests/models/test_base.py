"""The model registry: every registered model's parameters and buffers have the member dimension first."""

from __future__ import annotations

import pytest

from ganbench.models import MODELS, ModelConfig, create_models


@pytest.mark.parametrize("name", MODELS.names())
def test_every_parameter_and_buffer_has_the_member_dimension_first(name):
    """The stacked optimizers and checkpoint slicing index dimension 0 by member."""
    shape = (2,) if name == "mlp" else (1, 28, 28)
    for module in create_models(ModelConfig(name=name, width=8, latent_dim=4, spectral_norm=True), shape, [0, 1, 2]):
        for t in list(module.parameters()) + list(module.buffers()):
            assert t.shape[0] == 3
