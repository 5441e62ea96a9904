"""The embedded image sets (digits, stacked digits, polygons): their contract, contents and the polygons' raster."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from ganbench.data import DataOptions, load_dataset
from ganbench.data.image_sets import draw_polygons, rasterize_convex
from ganbench.rng import MemberRNG
from tests.data.helpers import EMBEDDED_IMAGES

CHANNELS = {"digits": 1, "stacked_digits": 3, "polygons": 1}
CLASSES = {"digits": 10, "stacked_digits": 1000, "polygons": 6}


@pytest.mark.parametrize("size", [8, 28, 32])
@pytest.mark.parametrize("name", EMBEDDED_IMAGES)
def test_embedded_image_dataset_contract(name, size):
    ds = load_dataset(name, DataOptions(image_size=size))
    assert ds.kind == "image"
    assert ds.sample_shape == (CHANNELS[name], size, size)
    assert ds.num_classes == CLASSES[name]
    assert ds.labels.shape == (len(ds),)
    assert int(ds.labels.min()) >= 0 and int(ds.labels.max()) < ds.num_classes
    x = ds.sample(MemberRNG([0, 1]), 16)
    assert x.shape == (2, 16, *ds.sample_shape) and x.dtype == torch.float32
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    # a member of a population draws exactly what the same seed draws alone
    assert_close(ds.sample(MemberRNG([7, 3]), 8)[1], ds.sample(MemberRNG([3]), 8)[0])
    assert_close(ds.reference(32, 5), ds.reference(32, 5))
    assert ds.sample(MemberRNG([0]), 4, dtype=torch.float64).dtype == torch.float64


def test_digits_are_the_sklearn_digits_upsampled():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits", DataOptions(image_size=32))
    bunch = load_digits()
    assert len(ds) == 1797
    assert_close(ds.labels, torch.as_tensor(bunch.target))
    # bilinear upsampling keeps each image's mean intensity (sklearn's scale is 0..16)
    upsampled_mean = ds.images.float().mean(dim=(1, 2, 3)) / 255 * 16
    assert_close(upsampled_mean, torch.as_tensor(bunch.images).float().mean(dim=(1, 2)), atol=0.02, rtol=0)


def test_digits_at_8x8_are_the_sklearn_digits_themselves():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits", DataOptions(image_size=8))
    expected = (torch.as_tensor(load_digits().images) / 16 * 255).round().to(torch.uint8)[:, None]
    assert torch.equal(ds.images, expected)  # no resampling at the native size
    assert ds.protocol["resolution"] == "8x8" and ds.protocol["upsampling"] == "none"
    stacked = load_dataset("stacked_digits", DataOptions(image_size=8))
    assert stacked.sample_shape == (3, 8, 8)
    assert torch.equal(stacked.images_at(torch.arange(5))[:, 1], ds.images[stacked.triples[:5, 1], 0])


def test_stacked_digits_channels_and_labels():
    ds = load_dataset("stacked_digits")
    base = ds.per_channel_source
    idx = torch.arange(10)
    images = ds.images_at(idx)
    for c in range(3):
        assert torch.equal(images[:, c], base.images[ds.triples[idx, c], 0])
    d = base.labels[ds.triples]
    assert torch.equal(ds.labels, 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2])
    assert len(torch.unique(ds.labels)) == 1000  # every mode is present in the set
    assert len(ds) == 20_000


def test_polygons_are_deterministic_and_labelled_by_vertex_count():
    a, counts_a = draw_polygons(64, 32, seed=3)
    b, counts_b = draw_polygons(64, 32, seed=3)
    c, _ = draw_polygons(64, 32, seed=4)
    assert torch.equal(a, b) and torch.equal(counts_a, counts_b)
    assert not torch.equal(a, c)
    assert a.shape == (64, 1, 32, 32) and a.dtype == torch.uint8
    ds = load_dataset("polygons")
    assert torch.equal(torch.unique(ds.labels), torch.arange(6))
    assert ((ds.images > 0) & (ds.images < 255)).any()  # antialiased edges


def test_rasterized_square_fills_exactly_its_pixels():
    square = torch.tensor([[[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]]])
    image = rasterize_convex(square, 32)[0, 0]
    expected = torch.zeros(32, 32, dtype=torch.uint8)
    expected[8:24, 8:24] = 255  # [-0.5, 0.5] is pixels 8..23 of 32 over [-1, 1]
    assert torch.equal(image, expected)


def _shoelace(verts: torch.Tensor) -> torch.Tensor:
    x, y = verts[..., 0], verts[..., 1]
    return 0.5 * (x * y.roll(-1, dims=-1) - x.roll(-1, dims=-1) * y).sum(dim=-1)


def test_rasterized_area_matches_the_shoelace_formula():
    g = torch.Generator().manual_seed(0)
    k = 6
    angles = torch.sort(torch.rand(50, k, generator=g) * 2 * math.pi, dim=1).values
    radius = 0.3 + 0.5 * torch.rand(50, 1, generator=g)
    verts = radius[..., None] * torch.stack([angles.cos(), angles.sin()], dim=-1)
    covered = rasterize_convex(verts, 32).double().sum(dim=(1, 2, 3)) / 255 * (2 / 32) ** 2
    assert_close(covered, _shoelace(verts).double(), atol=0.01, rtol=0.01)
