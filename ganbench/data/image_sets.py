"""The embedded image sets: ``digits``, ``stacked_digits`` and ``polygons`` (no download). The sets read from
local files are in :mod:`ganbench.data.external`."""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from ganbench.data.base import DataOptions, register_dataset
from ganbench.data.images import (
    POLYGON_SEED,
    POLYGON_SIZE,
    POLYGON_VERTICES,
    STACKED_SEED,
    STACKED_SIZE,
    ImageDataset,
    StackedImages,
    resolve_size,
)


@functools.lru_cache(maxsize=4)
def _digits_uint8(size: int) -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_digits  # shipped with scikit-learn: no download

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32)[:, None] / 16  # values 0..16
    if size != images.shape[-1]:
        images = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return (images * 255).round().clamp(0, 255).to(torch.uint8), torch.as_tensor(bunch.target)


@register_dataset("digits", kind="image")
def digits(options: DataOptions) -> ImageDataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes): at their native 8x8 with
    ``image_size: 8``, else upsampled bilinearly to 28 or 32 (32 by default)."""
    size = resolve_size(options, 32)
    images, labels = _digits_uint8(size)
    protocol = {
        "source": "sklearn.datasets.load_digits",
        "resolution": f"{size}x{size}",
        "upsampling": "none" if size == 8 else "bilinear",
    }
    return ImageDataset("digits", images, labels, 10, protocol=protocol, cache_dir=options.cache_dir)


@register_dataset("stacked_digits", kind="image")
def stacked_digits(options: DataOptions) -> StackedImages:
    """Three digits stacked as RGB channels (the Stacked-MNIST protocol on embedded digits): 1,000 modes.

    A fixed set of 20,000 triples drawn uniformly from seed 0; label ``100 d1 + 10 d2 + d3``.
    """
    base = digits(options)
    g = torch.Generator().manual_seed(STACKED_SEED)
    triples = torch.randint(len(base), (STACKED_SIZE, 3), generator=g)
    protocol = {"channels": "digits", "size": STACKED_SIZE, "seed": STACKED_SEED}
    return StackedImages("stacked_digits", base, triples, protocol=protocol, cache_dir=options.cache_dir)


def draw_polygons(n: int, size: int, seed: int, vertices: tuple[int, ...] = POLYGON_VERTICES) -> tuple[Tensor, Tensor]:
    """``n`` filled convex polygons, white on black, uint8 ``[n, 1, size, size]``, and their vertex counts.

    Vertices lie on a circle (so the polygon is convex) at evenly spaced angles jittered by up to 15 % of the
    spacing; centre, radius and rotation are random.
    """
    g = torch.Generator().manual_seed(seed)
    counts = torch.tensor(vertices)[torch.randint(len(vertices), (n,), generator=g)]
    kmax = max(vertices)
    centre = (torch.rand(n, 2, generator=g) - 0.5) * 0.4
    radius = 0.5 + 0.35 * torch.rand(n, 1, generator=g)
    k = torch.arange(kmax).expand(n, kmax)
    jitter = (torch.rand(n, kmax, generator=g) - 0.5) * 0.3
    angles = torch.rand(n, 1, generator=g) * 2 * math.pi + (k + jitter) * (2 * math.pi / counts[:, None])
    angles = torch.where(k < counts[:, None], angles, angles[:, :1])  # padding repeats vertex 0: empty edges
    verts = centre[:, None] + radius[:, None] * torch.stack([angles.cos(), angles.sin()], dim=-1)
    return rasterize_convex(verts, size), counts


def rasterize_convex(verts: Tensor, size: int) -> Tensor:
    """Fill convex polygons ``verts [n, k, 2]`` (counter-clockwise, in ``[-1, 1]^2``, x right, y down the
    rows) into uint8 ``[n, 1, size, size]``. A pixel's grey level is its coverage, from the signed distance of
    its centre to the nearest edge line (exact inside a convex polygon): antialiased edges. Repeated vertices
    (zero-length edges) are ignored, so polygons with fewer vertices can be padded."""
    n = verts.shape[0]
    edges = verts.roll(-1, dims=1) - verts  # counter-clockwise, so the inside is left of every edge
    length = edges.norm(dim=-1)
    # signed distance of point p to edge line k, positive inside: (e_x (p_y - v_y) - e_y (p_x - v_x)) / |e|
    offset = verts[..., 0] * edges[..., 1] - verts[..., 1] * edges[..., 0]
    coeff = torch.stack([-edges[..., 1], edges[..., 0], offset], dim=-1) / length.clamp_min(1e-12)[..., None]
    coeff[length < 1e-9] = torch.tensor([0.0, 0.0, 1e9])  # padded edges never bind
    ticks = (torch.arange(size) + 0.5) / size * 2 - 1
    gy, gx = torch.meshgrid(ticks, ticks, indexing="ij")
    grid = torch.stack([gx.flatten(), gy.flatten(), torch.ones(size * size)])  # [3, size*size]
    dist = (coeff @ grid).amin(dim=1)  # [n, size*size]
    coverage = (0.5 + dist * (size / 2)).clamp(0, 1)  # one pixel is 2 / size wide
    return (coverage * 255).round().to(torch.uint8).reshape(n, 1, size, size)


@functools.lru_cache(maxsize=4)
def _polygons_cached(n: int, size: int, seed: int) -> tuple[Tensor, Tensor]:
    return draw_polygons(n, size, seed)


@register_dataset("polygons", kind="image")
def polygons(options: DataOptions) -> ImageDataset:
    """Convex polygons with 3 to 8 vertices (Lucic et al. 2018's known manifold), labelled by vertex count.

    20,000 images drawn from seed 0; ``draw_polygons`` makes any number from any seed.
    """
    images, counts = _polygons_cached(POLYGON_SIZE, resolve_size(options, 32), POLYGON_SEED)
    labels = counts - min(POLYGON_VERTICES)
    protocol = {"vertices": "3-8", "size": POLYGON_SIZE, "seed": POLYGON_SEED}
    n = len(POLYGON_VERTICES)
    return ImageDataset("polygons", images, labels, n, protocol=protocol, cache_dir=options.cache_dir)
