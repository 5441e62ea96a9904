"""The model registry and what every model factory is called with."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ganbench.config import ModelConfig
from ganbench.registry import Registry
from ganbench.rng import MemberRNG

ModelFactory = Callable[..., "tuple[nn.Module, nn.Module]"]
MODELS: Registry[ModelFactory] = Registry("model")


def create_models(
    config: ModelConfig, sample_shape: tuple[int, ...], seeds: list[int], *, d_batch_norm: bool = True
) -> tuple[nn.Module, nn.Module]:
    """G and D holding one network per seed, each initialized from its own seeded stream."""
    rng = MemberRNG(seeds, salt=1)  # init stream, separate from the training streams
    return MODELS.get(config.name)(config, sample_shape, len(seeds), rng, d_batch_norm=d_batch_norm)
