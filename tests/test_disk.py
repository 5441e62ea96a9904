"""What a suite writes to its output folder: the estimate behind the start-up check and the full-disk line."""

from __future__ import annotations

import dataclasses

import pytest

from ganbench import disk
from ganbench.cli import main
from ganbench.config import Member
from ganbench.data import DataOptions
from ganbench.startup import check_disk, load
from ganbench.train import Trainer
from tests.conftest import write_suite
from tests.test_faults import SLOW_SUITE
from tests.test_train import TINY

SMALL = SLOW_SUITE.replace("steps: 400", "steps: 40").replace("eval_every: 50", "eval_every: 20")


def test_a_checkpoints_estimated_size_is_the_size_of_the_file_the_trainer_writes(tmp_path):
    paths = [tmp_path / "a.pt"]
    trainer = Trainer(dataclasses.replace(TINY, steps=20, eval_every=10), [Member(0, 1e-3, 1e-3)], checkpoints=paths)
    estimate = disk.checkpoint_bytes(trainer)  # before training: the optimizer state is allocated up front
    trainer.run()
    assert estimate == pytest.approx(paths[0].stat().st_size, rel=0.05)  # the metrics it carries are a few KB


def test_the_estimate_covers_what_a_small_suite_writes(tmp_path):
    suite = write_suite(tmp_path / "s.yaml", SMALL)
    out = tmp_path / "out"
    estimate = check_disk(load(suite), DataOptions(cache_dir=out / "cache"), out)
    assert main(["run", "--suite", str(suite), "--out", str(out), "--no-progress"]) == 0
    written = disk.used_bytes(out)
    assert written <= estimate <= 4 * written, (written, estimate)  # 2.9 MB written, 4.8 MB estimated
    assert check_disk(load(suite), DataOptions(cache_dir=out / "cache"), out) == estimate  # a resume: the same


def test_a_suite_that_does_not_fit_on_its_disk_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    suite = write_suite(tmp_path / "s.yaml", SMALL)
    out = tmp_path / "out"
    monkeypatch.setattr(disk, "free_bytes", lambda folder: 100 * 2**10)
    with pytest.raises(SystemExit) as exited:
        main(["run", "--suite", str(suite), "--out", str(out), "--no-progress"])
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "writes about" in lines[0] and "100.0 KiB are free" in lines[0], lines
    assert not out.exists()


def test_a_full_disk_line_says_how_much_more_the_suite_needs(tmp_path, monkeypatch, capsys):
    """A checkpoint write that finds the disk full mid-run: one line with the path, the space the suite still
    needs in its output folder and what is free there."""
    from ganbench import population
    from ganbench.errors import disk_full

    suite = write_suite(tmp_path / "s.yaml", SMALL)
    out = tmp_path / "out"
    saves = {"n": 0}
    save = population.PopulationState.save

    def filling(self, *args):
        saves["n"] += 1
        if saves["n"] > 2:
            raise disk_full(out / "checkpoints")
        save(self, *args)

    monkeypatch.setattr(population.PopulationState, "save", filling)
    with pytest.raises(SystemExit) as exited:
        main(["run", "--suite", str(suite), "--out", str(out), "--no-progress", "--executor", "local"])
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"no space left on the device of {out / 'checkpoints'}" in lines[0]
    assert "the suite needs about" in lines[0] and f"more in {out} (" in lines[0] and "free)" in lines[0]
