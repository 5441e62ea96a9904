"""Image datasets kept in memory as uint8 (:class:`ImageDataset`, :class:`StackedImages`) and their conversions.
The registered sets are in :mod:`ganbench.data.image_sets`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganbench.data.base import DataError, DataOptions
from ganbench.rng import MemberRNG

DEFAULT_DATA_DIR = "data"  # relative to the working directory; GANBENCH_DATA overrides
POLYGON_VERTICES = (3, 4, 5, 6, 7, 8)
STACKED_SEED, STACKED_SIZE = 0, 20_000
POLYGON_SEED, POLYGON_SIZE = 0, 20_000


IMAGE_SIZES = (8, 28, 32)  # 8: the digits' native size (the CPU suite); 28 and 32: MNIST's and CIFAR's


def resolve_size(options: DataOptions, natural: int) -> int:
    """The size a set is loaded at: the suite's ``image_size``, else the set's ``natural`` one."""
    size = options.image_size or natural
    if size not in IMAGE_SIZES:
        raise DataError(f"image_size must be one of {', '.join(map(str, IMAGE_SIZES))}, not {size}")
    return size


def data_root(options: DataOptions) -> Path:
    """``options.data_dir``, else ``$GANBENCH_DATA``, else ``./data``."""
    return Path(options.data_dir or os.environ.get("GANBENCH_DATA", DEFAULT_DATA_DIR)).expanduser()


def to_unit_range(images: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """uint8 ``[0, 255]`` -> float ``[-1, 1]``."""
    return images.to(dtype) / 127.5 - 1


def to_uint8(samples: Tensor) -> Tensor:
    """float ``[-1, 1]`` -> uint8 ``[0, 255]`` (values outside are clipped), as images are stored."""
    return ((samples.detach().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def resize_uint8(images: Tensor, size: int) -> Tensor:
    """Bilinear (antialiased) resize of uint8 ``[n, C, h, w]`` to ``size x size``."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = [
        torch.nn.functional.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True)
        for chunk in images.split(4096)
    ]
    return torch.cat(out).round().clamp(0, 255).to(torch.uint8)


class ImageDataset:
    """Finite image set kept in memory as uint8 ``[n, C, H, W]``; batches are converted to ``[-1, 1]``.

    ``labels`` (``[n]``, or None) and ``num_classes`` train the domain classifier and define the modes.
    ``fingerprint`` names the content (size and a hash of a strided subset), keying cached classifiers and
    statistics.
    """

    kind = "image"

    def __init__(
        self,
        name: str,
        images: Tensor,
        labels: Tensor | None,
        num_classes: int,
        *,
        protocol: dict[str, Any] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"{name}: images must be uint8 [n, C, H, W], got {images.dtype} {tuple(images.shape)}")
        self.name, self.labels, self.num_classes = name, labels, num_classes
        self.protocol = protocol or {}
        self.cache_dir = cache_dir
        self._images = images
        self._device_copies: dict[torch.device, Tensor] = {}

    @property
    def images(self) -> Tensor:
        """All images, uint8 ``[n, C, H, W]``."""
        return self._images

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return tuple(self._images.shape[1:])  # type: ignore[return-value]

    @property
    def image_size(self) -> int:
        return self.sample_shape[-1]

    def __len__(self) -> int:
        return self._images.shape[0]

    def images_at(self, idx: Tensor) -> Tensor:
        """uint8 images at ``idx`` (any shape), on ``idx``'s device."""
        if idx.device not in self._device_copies:
            self._device_copies[idx.device] = self._images.to(idx.device)
        return self._device_copies[idx.device][idx]

    def sample(self, rng: MemberRNG, batch: int, dtype: torch.dtype = torch.float32) -> Tensor:
        return to_unit_range(self.images_at(rng.randint(len(self), (batch,))), dtype)

    def reference_indices(self, n: int, seed: int) -> Tensor:
        """Without replacement while ``n`` fits in the set, else with."""
        g = torch.Generator().manual_seed(seed)
        if n <= len(self):
            return torch.randperm(len(self), generator=g)[:n]
        return torch.randint(len(self), (n,), generator=g)

    def reference(self, n: int, seed: int) -> Tensor:
        return to_unit_range(self.images_at(self.reference_indices(n, seed)))

    @property
    def fingerprint(self) -> str:
        step = max(1, len(self) // 512)
        h = hashlib.sha256(self._images[::step].contiguous().numpy().tobytes())
        if self.labels is not None:
            h.update(self.labels.to(torch.int64).numpy().tobytes())
        return f"{self.name}-{len(self)}x{'x'.join(map(str, self.sample_shape))}-{h.hexdigest()[:12]}"


class StackedImages(ImageDataset):
    """Images whose channels are single-channel images of ``base`` (Stacked MNIST, Metz et al. 2017).

    ``triples[i]`` are the base indices of sample i's channels; its label is the channels' base labels read as
    digits of a base-``base.num_classes`` number (``100 d1 + 10 d2 + d3`` for three digits: 1,000 modes). The
    domain classifier of ``base`` labels each channel (``per_channel_source``).
    """

    def __init__(
        self,
        name: str,
        base: ImageDataset,
        triples: Tensor,
        *,
        protocol: dict[str, Any] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        k, c = base.num_classes, triples.shape[1]
        weights = torch.tensor([k ** (c - 1 - i) for i in range(c)])
        labels = (base.labels[triples] * weights).sum(dim=1) if base.labels is not None else None
        self.name, self.labels, self.num_classes = name, labels, k**c
        self.protocol, self.cache_dir = protocol or {}, cache_dir
        self.base, self.triples = base, triples
        self._triples_on: dict[torch.device, Tensor] = {}

    @property
    def images(self) -> Tensor:
        """All images, assembled on demand (only the triples are stored)."""
        return self.images_at(torch.arange(len(self)))

    @property
    def per_channel_source(self) -> ImageDataset:
        return self.base

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        return (self.triples.shape[1], *self.base.sample_shape[1:])  # type: ignore[return-value]

    def __len__(self) -> int:
        return self.triples.shape[0]

    def images_at(self, idx: Tensor) -> Tensor:
        if idx.device not in self._triples_on:
            self._triples_on[idx.device] = self.triples.to(idx.device)
        return self.base.images_at(self._triples_on[idx.device][idx]).squeeze(-3)

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256(self.triples.numpy().tobytes()).hexdigest()[:12]
        return f"{self.name}-{len(self)}-{h}-on-{self.base.fingerprint}"
