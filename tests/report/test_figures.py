"""The report's figures from the store: which runs' samples appear, and how their columns are named."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib.image
import numpy as np
import pandas as pd

from ganbench.report.figures import last_samples


class _Store:
    """The two MLflow client calls ``last_samples`` makes, over PNG files written beforehand."""

    def __init__(self, root: Path, run_ids: list[str]) -> None:
        self.root = root
        for run_id in run_ids:
            (root / run_id / "samples").mkdir(parents=True)
            for step in (10, 20):
                matplotlib.image.imsave(
                    root / run_id / "samples" / f"step_{step:06d}.png", np.ones((4, 4, 3)) * step / 20
                )
        self.client = SimpleNamespace(list_artifacts=self._list, download_artifacts=self._download)

    def _list(self, run_id: str, folder: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(path=f"{folder}/{p.name}") for p in sorted((self.root / run_id / folder).iterdir())]

    def _download(self, run_id: str, path: str, dst: str) -> str:
        return str(self.root / run_id / path)


def _runs(replicates: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "loss": "r1",
            "strategy": "adam_dcgan",
            "run_id": [f"run{i}" for i in range(len(replicates))],
            "seed": list(range(len(replicates))),
            "replicate": replicates,
        }
    )


def test_the_sample_columns_name_the_replicate_of_each_seed_when_there_are_several(tmp_path) -> None:
    runs = _runs([0, 0, 1, 1])
    cells = last_samples(_Store(tmp_path / "store", list(runs["run_id"])), runs, tmp_path)
    assert sorted(c for _, c in cells) == [
        "replicate 0, seed 0",
        "replicate 0, seed 1",
        "replicate 1, seed 2",
        "replicate 1, seed 3",
    ]
    assert all(image[0, 0, 0] == 1.0 for image in cells.values())  # the last step's samples (step 20)


def test_one_replicate_keeps_plain_seed_columns(tmp_path) -> None:
    runs = _runs([0, 0, 0])
    cells = last_samples(_Store(tmp_path / "store", list(runs["run_id"])), runs, tmp_path)
    assert sorted(c for _, c in cells) == ["seed 0", "seed 1", "seed 2"]
