"""What a suite writes to its output folder, estimated before it starts: the start-up check refuses a suite that
cannot fit, and a disk that fills up anyway is reported with the space the suite still needs.

The estimate adds, per run, its checkpoint (exact: the serialized state of a fresh one-member trainer, whose
optimizer state is allocated up front), its rows in the MLflow store and its sample figures, plus what is
written once (the report, its copy as an artifact, the dataset cache). Measured in
``results/images_cpu_3losses`` (96 runs, two 8x8 image datasets): ``mlflow.db`` 3.4 MB (36 KB per run), sample
figures 15-23 KB each (median 15 KB), report 5.0 MB and its artifact copy about as much, dataset cache 8.3 MB;
a 2-D suite of 4 runs wrote 2.9 MB in all. The constants below round these up. Tuning trials delete their
checkpoints when they end, so only one batch of them counts.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STORE_BYTES_PER_RUN = 64 * 2**10
FIGURE_BYTES = 32 * 2**10  # a 400x400 px figure of 8x8 images or of points (15-23 KB measured)
ONCE_BYTES = 4 * 2**20  # the report (HTML with figures), its copy on the suite's run, the stores' own tables
IMAGE_DATASET_BYTES = 12 * 2**20  # an image dataset's cache (classifier, reference features) and report figures


def checkpoint_bytes(trainer: Any) -> int:
    """The size of one member's checkpoint, serialized as the trainer writes it."""
    import torch

    buffer = io.BytesIO()
    torch.save(trainer.state.member(0), buffer)
    return len(buffer.getbuffer())


def figure_bytes(sample_shape: tuple[int, ...]) -> int:
    """A sample figure's PNG: grows with the pixels its 8x8 grid shows (the figure is 400x400 px at most)."""
    if len(sample_shape) < 3:
        return FIGURE_BYTES
    side = min(400, 8 * (sample_shape[-1] + 1))
    return FIGURE_BYTES + side * side * 3 // 2


def suite_bytes(suite: Any, checkpoints: Mapping[str, int], shapes: Mapping[str, tuple[int, ...]]) -> int:
    """Bytes the whole suite writes under its output folder; ``checkpoints`` and ``shapes`` map each
    contender's name to the size of one of its checkpoints and to its dataset's sample shape."""
    evals = -(-suite.steps // suite.eval_every)
    seeds = len(suite.seed_list) * suite.replicates
    tuning = suite.tuning
    trials = (tuning.trials or 2 * tuning.batch) * tuning.seeds_per_trial * suite.replicates if tuning else 0
    in_flight = tuning.batch * tuning.seeds_per_trial if tuning else 0
    images = {c.split("|")[-1] for c, shape in shapes.items() if len(shape) >= 3}
    total = ONCE_BYTES + len(images) * IMAGE_DATASET_BYTES
    for name, checkpoint in checkpoints.items():
        figure = figure_bytes(shapes[name])
        total += seeds * (checkpoint + STORE_BYTES_PER_RUN + evals * figure)
        total += trials * (STORE_BYTES_PER_RUN + figure) + in_flight * checkpoint
    return total


def used_bytes(folder: Path) -> int:
    """Bytes already under ``folder`` (what a resumed suite has written before)."""
    if not folder.is_dir():
        return 0
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:
            continue
    return total


def free_bytes(folder: Path) -> int | None:
    """Free bytes on the file system that holds ``folder`` (or its nearest existing parent)."""
    path = folder.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def still_needed(total: int, folder: Path) -> int:
    """What a suite that writes ``total`` bytes in all still needs, given what ``folder`` holds now."""
    return max(0, total - used_bytes(folder))


def size(nbytes: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if nbytes >= scale / 10:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes / 2**10:.1f} KiB"
