"""Replicates: the whole tune-then-train pipeline repeated with seeds of its own, a store grown from one replicate
to three without retraining the first, a killed run resumed without retraining what finished, and bad values of
the new keys refused with one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from ganbench.cli import main
from ganbench.suite import load_suite
from ganbench.tracking import TAG_PHASE, TAG_REPLICATE, MLflowStore, default_tracking_uri
from tests.conftest import ROOT, env_for_subprocess, write_suite

pytestmark = pytest.mark.slow

SUITE = """
name: reps
losses: [non_saturating, hinge]
strategies: [adam_dcgan]
datasets: [ring8]
seeds: 2
steps: 20
batch_size: 32
eval_every: 10
eval_samples: 200
models:
  points: {name: mlp, width: 16, depth: 2, latent_dim: 2}
tuning: {trials: 2, batch: 1, lr_min: 1.0e-4, lr_max: 1.0e-2, pruner: none}
"""


def _runs(out: Path) -> list:
    store = MLflowStore(default_tracking_uri(out), "ganbench/reps")
    return [r for phase in ("final", "tune") for r in store.find_runs(f"tags.`{TAG_PHASE}` = '{phase}'")]


def _studies(out: Path) -> dict[str, optuna.Study]:
    storage = f"sqlite:///{out / 'optuna.db'}"
    return {
        s.study_name: optuna.load_study(study_name=s.study_name, storage=storage)
        for s in optuna.get_all_study_summaries(storage)
    }


def test_replicates_have_their_own_seeds_and_none_is_shared() -> None:
    suite = load_suite({**_dict(), "replicates": 3, "seeds": [0, 5]})
    finals = [suite.seeds_of(r) for r in range(3)]
    assert finals == [[0, 5], [6, 11], [12, 17]]  # the first replicate is the suite's own seeds
    tuning = [suite.tuning.seeds_of(r) for r in range(3)]
    assert tuning == [[10_000], [10_001], [10_002]]
    every = [s for group in finals + tuning for s in group]
    assert len(every) == len(set(every))
    assert suite.key() == load_suite({**_dict(), "seeds": [0, 5]}).key()  # more replicates: the same parent run


def _dict() -> dict:
    import yaml

    return yaml.safe_load(SUITE)


def test_one_replicate_grows_to_three_without_retraining_the_first(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "reps.yaml", SUITE)
    out = tmp_path / "out"
    args = ["run", "--suite", str(suite), "--out", str(out), "--no-progress", "--executor", "local"]
    assert main(args) == 0
    first = {r.info.run_id: (r.info.end_time, r.data.metrics.get("w1_raw")) for r in _runs(out)}
    assert len(first) == 2 * 2 + 2 * 2  # 2 contenders x (2 trials + 2 seeds)
    studies = _studies(out)
    assert len(studies) == 2 and all(name.endswith("/r0") for name in studies)

    assert main([*args, "--replicates", "3"]) == 0
    runs = _runs(out)
    assert len(runs) == 3 * len(first)  # two more replicates, nothing trained twice
    for r in runs:
        if r.info.run_id in first:  # the first replicate's runs were neither reopened nor retrained
            assert (r.info.end_time, r.data.metrics.get("w1_raw")) == first[r.info.run_id]
            assert r.data.tags.get(TAG_REPLICATE, "0") == "0"
    replicates = {int(r.data.tags[TAG_REPLICATE]) for r in runs}
    assert replicates == {0, 1, 2}
    seeds = {
        (int(r.data.tags[TAG_REPLICATE]), int(r.data.params["seed"])) for r in runs if r.data.tags[TAG_PHASE] == "final"
    }
    assert seeds == {(0, 0), (0, 1), (1, 2), (1, 3), (2, 4), (2, 5)}
    studies = _studies(out)
    assert len(studies) == 6
    for study in studies.values():
        assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 2
    summary = (out / "report" / "summary.csv").read_text()
    assert ",3,6," in summary  # replicates 3, seeds 6 (final runs per contender)


def test_a_killed_replicated_run_resumes_without_retraining_what_finished(tmp_path: Path) -> None:
    text = SUITE.replace("steps: 20", "steps: 400").replace("eval_every: 10", "eval_every: 100") + "replicates: 2\n"
    suite = write_suite(tmp_path / "reps.yaml", text)
    out = tmp_path / "out"
    args = ["run", "--suite", str(suite), "--out", str(out), "--no-progress", "--executor", "local"]
    env = {**env_for_subprocess(), "OMP_NUM_THREADS": "1"}
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ganbench.cli", *args], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    deadline = time.monotonic() + 240
    try:
        while True:  # kill it once some runs finished and others are still training
            done = [r for r in _safe_runs(out) if r.info.status == "FINISHED"]
            running = [r for r in _safe_runs(out) if r.info.status == "RUNNING"]
            if len(done) >= 3 and running:
                break
            assert proc.poll() is None, (
                "the run ended before it could be killed:\n" + (tmp_path / "first.log").read_text()
            )
            assert time.monotonic() < deadline, "no run finished within 240 s"
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    before = {
        r.info.run_id: (r.info.end_time, r.data.metrics.get("w1_raw"))
        for r in _runs(out)
        if r.info.status == "FINISHED"
    }
    assert main(args) == 0
    runs = _runs(out)
    for r in runs:
        if r.info.run_id in before:
            assert (r.info.end_time, r.data.metrics.get("w1_raw")) == before[r.info.run_id]
    finished = [r for r in runs if r.info.status == "FINISHED" and r.data.tags[TAG_PHASE] == "final"]
    assert len(finished) == 2 * 2 * 2  # 2 contenders x 2 replicates x 2 seeds, no duplicate
    keys = [r.data.tags["ganbench.key"] for r in finished]
    assert len(keys) == len(set(keys))
    assert not [r for r in runs if r.info.status == "RUNNING"]


def _safe_runs(out: Path) -> list:
    try:
        return _runs(out)
    except Exception:  # the store is being created
        return []


@pytest.mark.parametrize(
    "change, message",
    [
        ("replicates: 0", "key 'replicates': Input should be greater than 0"),
        ("replicates: two", "key 'replicates'"),
        ("tuning: {trials: 2, compute: 5.0}", "give the budget as trials (per study) or as compute"),
        ("tuning: {compute: -1.0}", "key 'tuning.compute': Input should be greater than 0"),
        ("tuning: {trials: 2, seeds_per_trial: 0}", "key 'tuning.seeds_per_trial'"),
        ("tuning: {trials: 2, seed: 1}", "tuning seed 1 is also a final seed"),
        ("tuning: {trials: 2, loss_params: maybe}", "key 'tuning.loss_params'"),
    ],
)
def test_bad_values_of_the_new_keys_exit_2_with_one_line(tmp_path: Path, capsys, change: str, message: str) -> None:
    key = change.split(":")[0]
    lines = [line for line in SUITE.strip().splitlines() if not line.startswith(f"{key}:")]
    suite = write_suite(tmp_path / "bad.yaml", "\n".join([*lines, change]) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--suite", str(suite), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "o" / "mlflow.db").exists()  # nothing was opened


def test_bad_replicates_option_exits_2(tmp_path: Path, capsys) -> None:
    suite = write_suite(tmp_path / "reps.yaml", SUITE)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--suite", str(suite), "--out", str(tmp_path / "o"), "--replicates", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--replicates" in err, err
