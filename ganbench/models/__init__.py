"""Generator/discriminator pairs. Every model is *stacked*: it holds the weights of ``members`` independent
networks and maps ``[members, batch, *in]`` to ``[members, batch, *out]``, so a single run is a population of
one and a seed sweep is one vectorized model (trained by ``train.py``).

Discriminators return raw scores ``[members, batch]`` (higher = real, no sigmoid) and implement
``forward_with_features`` for feature matching.
"""

from __future__ import annotations

from ganbench.config import ModelConfig
from ganbench.models import dcgan, image_mlp, mlp  # noqa: F401 - they register themselves
from ganbench.models.base import MODELS, create_models
from ganbench.models.layers import StackedBatchNorm2d, StackedConv2d, StackedLinear, _NarrowLinear, _spectral_normalized

__all__ = [
    "MODELS",
    "ModelConfig",
    "StackedBatchNorm2d",
    "StackedConv2d",
    "StackedLinear",
    "_NarrowLinear",
    "_spectral_normalized",
    "create_models",
]
