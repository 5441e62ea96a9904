"""Datasets: the registry, options and start-up check (:mod:`.base`), the 2-D mixtures (:mod:`.mixtures`), and
the image sets (:mod:`.images`; embedded: :mod:`.image_sets`; from local files: :mod:`.external`). Importing the
package registers every bundled dataset."""

from __future__ import annotations

from ganbench.data import external, image_sets, mixtures  # noqa: F401 - they register themselves
from ganbench.data.base import (
    DATASETS,
    DataError,
    DataOptions,
    check_datasets,
    dataset_kind,
    load_dataset,
    register_dataset,
)
from ganbench.data.mixtures import GaussianMixture

__all__ = [
    "DATASETS",
    "DataError",
    "DataOptions",
    "GaussianMixture",
    "check_datasets",
    "dataset_kind",
    "load_dataset",
    "register_dataset",
]
