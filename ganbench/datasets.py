"""Datasets. Embedded ones need no download; external ones read local files (``--data-dir``).

Every dataset is an object with ``name``, ``kind`` (``"points"`` or ``"image"``), ``sample_shape`` and
``sample(rng, batch) -> [members, batch, *sample_shape]`` drawing each member's batch from its own stream, and
``reference(n, seed) -> [n, *sample_shape]``: real samples for evaluation. Images are ``[C, H, W]`` in
``[-1, 1]``, kept in memory as uint8; labelled image sets also have ``labels`` and ``num_classes``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganbench.errors import GanbenchError
from ganbench.registry import Registry
from ganbench.rng import MemberRNG


class DataError(GanbenchError, ValueError):
    """Missing or unreadable data: the message says where it was looked for and how to get it."""


@dataclass(frozen=True)
class DataOptions:
    data_dir: Path | None = None
    download: bool = False
    image_size: int | None = None  # 28 or 32 for image datasets; None: the dataset's natural size
    cache_dir: Path | None = None  # where derived artifacts (domain classifiers, statistics) are cached


DatasetFactory = Callable[[DataOptions], Any]
DATASETS: Registry[DatasetFactory] = Registry("dataset")


def register_dataset(name: str, *, kind: str) -> Callable[[DatasetFactory], DatasetFactory]:
    """Decorator registering a dataset factory ``f(options: DataOptions) -> dataset`` under ``name``.

    ``kind`` is ``"points"`` (2-D mixtures: mode coverage, W1) or ``"image"`` (FID and friends); it picks the
    model and the evaluator. The dataset object has ``name``, ``kind``, ``sample_shape``, ``sample(rng, batch)``
    and ``reference(n, seed)`` (see :class:`GaussianMixture`); point sets add ``means`` and ``sigma``."""
    if kind not in ("points", "image"):
        raise ValueError(f"register_dataset({name!r}): kind must be 'points' or 'image', not {kind!r}")

    def decorator(factory: DatasetFactory) -> DatasetFactory:
        factory.kind = kind  # type: ignore[attr-defined]
        return DATASETS.add(name, factory, origin=getattr(factory, "__module__", None))

    return decorator


def load_dataset(name: str, options: DataOptions | None = None) -> Any:
    return DATASETS.get(name)(options or DataOptions())


def dataset_kind(name: str) -> str:
    """``"points"`` or ``"image"``, known without building the data (which may need --data-dir): a factory
    states its kind in a ``kind`` attribute; image is the default."""
    return getattr(DATASETS.get(name), "kind", "image")


@dataclass(frozen=True)
class GaussianMixture:
    """Isotropic 2-D Gaussian mixture with equal weights; infinite data (each batch freshly drawn)."""

    name: str
    means: Tensor  # [modes, 2]
    sigma: float
    kind: str = "points"
    sample_shape: tuple[int, ...] = (2,)
    protocol: dict[str, Any] = field(default_factory=dict)

    @property
    def num_modes(self) -> int:
        return self.means.shape[0]

    def sample(self, rng: MemberRNG, batch: int, dtype: torch.dtype = torch.float32) -> Tensor:
        idx = rng.randint(self.num_modes, (batch,))
        means = self.means.to(device=rng.device, dtype=dtype)
        return means[idx] + self.sigma * rng.randn((batch, 2), dtype=dtype)

    def reference(self, n: int, seed: int) -> Tensor:
        return self.sample(MemberRNG([seed], salt=7), n)[0]


@DATASETS.register("ring8")
def ring8(options: DataOptions) -> GaussianMixture:
    """8 Gaussians evenly spaced on the unit circle, sigma = 0.01 (Unrolled GAN, VEEGAN, PacGAN)."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    means = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1).float()
    return GaussianMixture("ring8", means, 0.01)


@DATASETS.register("grid25")
def grid25(options: DataOptions) -> GaussianMixture:
    """25 Gaussians with means on {-4, -2, 0, 2, 4}^2, sigma = 0.05 (VEEGAN, PacGAN)."""
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    means = torch.cartesian_prod(ticks, ticks)
    return GaussianMixture("grid25", means, 0.05)


ring8.kind = grid25.kind = "points"  # type: ignore[attr-defined]


# the image sets register themselves when their module loads; it needs the names above, so it comes last
from ganbench import image_datasets  # noqa: E402,F401
