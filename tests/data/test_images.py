"""Image sets in memory: the uint8 conversion and the image sizes a set can be loaded at."""

from __future__ import annotations

import pytest
import torch

from ganbench.data import DataError, DataOptions, load_dataset
from ganbench.data.images import to_uint8


def test_to_uint8_inverts_the_sampling_conversion():
    ds = load_dataset("digits")
    idx = torch.arange(50)
    assert torch.equal(to_uint8(ds.images_at(idx).float() / 127.5 - 1), ds.images_at(idx))


def test_image_size_must_be_8_28_or_32():
    with pytest.raises(DataError, match="one of 8, 28, 32"):
        load_dataset("digits", DataOptions(image_size=64))
