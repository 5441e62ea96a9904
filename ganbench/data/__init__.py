"""Datasets: the registry and options (:mod:`.base`), the 2-D mixtures (:mod:`.mixtures`), and the image sets
(:mod:`.images`, :mod:`.image_sets`). Importing the package registers every bundled dataset."""

from __future__ import annotations

from ganbench.data import image_sets, mixtures  # noqa: F401 - they register themselves
from ganbench.data.base import (
    DATASETS,
    DataError,
    DataOptions,
    dataset_kind,
    load_dataset,
    register_dataset,
)
from ganbench.data.mixtures import GaussianMixture

__all__ = ["DATASETS", "DataError", "DataOptions", "GaussianMixture", "dataset_kind", "load_dataset",
           "register_dataset"]  # fmt: skip
