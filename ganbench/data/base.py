"""What every dataset shares: the registry, the options, the errors. Embedded datasets need no download;
external ones read local files (``--data-dir``).

Every dataset is an object with ``name``, ``kind`` (``"points"`` or ``"image"``), ``sample_shape`` and
``sample(rng, batch) -> [members, batch, *sample_shape]`` drawing each member's batch from its own stream, and
``reference(n, seed) -> [n, *sample_shape]``: real samples for evaluation. Images are ``[C, H, W]`` in
``[-1, 1]``, kept in memory as uint8; labelled image sets also have ``labels`` and ``num_classes``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganbench.errors import GanbenchError
from ganbench.registry import Registry


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
    """``"points"`` or ``"image"``, known without building the data (which may need --data-dir): given when
    the factory was registered (:func:`register_dataset`)."""
    return DATASETS.get(name).kind  # type: ignore[attr-defined]


def check_datasets(names: Iterable[str], options: DataOptions | None = None) -> None:
    """Load every dataset in ``names`` once, so a missing or malformed file is found before anything runs: a
    :class:`DataError` of one line (the CLI's exit 2). Call it before opening any run, with the options the runs
    will load the data with (``image_size`` included). Sets read from files are kept for the rest of the process,
    so the evaluator built next does not read them again; the embedded ones cost a fraction of a second."""
    for name in dict.fromkeys(names):
        load_dataset(name, options)
