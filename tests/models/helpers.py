"""The model configurations the models' tests share."""

from __future__ import annotations

from ganbench.models import ModelConfig


def _dcgan(width: int = 8, latent_dim: int = 16, spectral_norm: bool = False) -> ModelConfig:
    return ModelConfig(name="dcgan", width=width, latent_dim=latent_dim, spectral_norm=spectral_norm)
