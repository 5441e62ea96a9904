"""Faults: SIGKILL at any moment then rerun, SIGTERM stops cleanly, a failing job does not stop the suite."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from ganbench import metrics as M
from ganbench.cli import main
from ganbench.losses import LOSSES, LossSpec
from tests.conftest import GANBENCH, env_for_subprocess, write_suite

SLOW_SUITE = """
name: faults
losses: [non_saturating, hinge]
strategies: [adam_dcgan]
datasets: [ring8]
seeds: 2
steps: 400
batch_size: 32
eval_every: 50
eval_samples: 200
models:
  points: {name: mlp, width: 16, depth: 2, latent_dim: 2}
"""


def _children(out: Path, experiment: str = "ganbench/faults"):
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment).experiment_id
    return [r for r in client.search_runs([exp]) if "mlflow.parentRunId" in r.data.tags]


# timings: a run's wall time differs between any two runs by nature (and a resumed run's includes its restart),
# so a resumed run is compared with an uninterrupted one on everything else
TIMING_METRICS = {M.WALL}


def _final_metrics(out: Path) -> dict[str, dict[str, float]]:
    return {
        r.data.tags["ganbench.key"]: {k: v for k, v in r.data.metrics.items() if k not in TIMING_METRICS}
        for r in _children(out)
    }


def _start(suite: Path, out: Path) -> subprocess.Popen:
    args = ["run", "--suite", str(suite), "--out", str(out), "--population-size", "1", "--no-progress"]
    return subprocess.Popen(
        GANBENCH + args, env=env_for_subprocess(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for_mid_run_checkpoint(proc: subprocess.Popen, out: Path, timeout: float = 120) -> int:
    """Poll until some run has a checkpoint before its last step; return that step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for path in (out / "checkpoints").glob("*.pt"):
            try:
                step = torch.load(path, weights_only=True)["step"]
            except Exception:  # being replaced right now
                continue
            if 0 < step < 400:
                return step
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same suite, never interrupted."""
    base = tmp_path_factory.mktemp("ref")
    suite = write_suite(base / "faults.yaml", SLOW_SUITE)
    assert (
        main(["run", "--suite", str(suite), "--out", str(base / "out"), "--population-size", "1", "--no-progress"]) == 0
    )
    return _final_metrics(base / "out")


@pytest.mark.slow
def test_sigkill_then_rerun_resumes_with_identical_metrics_and_no_duplicates(tmp_path, reference):
    suite = write_suite(tmp_path / "faults.yaml", SLOW_SUITE)
    out = tmp_path / "out"
    proc = _start(suite, out)
    _wait_for_mid_run_checkpoint(proc, out)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert any(r.info.status == "RUNNING" for r in _children(out))  # the killed run is left open ...
    assert main(["run", "--suite", str(suite), "--out", str(out), "--population-size", "1", "--no-progress"]) == 0
    children = _children(out)
    assert len(children) == 4  # ... and reopened, not duplicated
    assert all(r.info.status == "FINISHED" for r in children)
    assert _final_metrics(out) == reference  # resumed from checkpoints: the same numbers to the last digit


@pytest.mark.slow
def test_sigterm_checkpoints_marks_killed_and_resumes(tmp_path, reference):
    suite = write_suite(tmp_path / "faults.yaml", SLOW_SUITE)
    out = tmp_path / "out"
    proc = _start(suite, out)
    _wait_for_mid_run_checkpoint(proc, out)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "rerun the same command to resume" in err
    statuses = {r.info.status for r in _children(out)}
    assert "KILLED" in statuses and "RUNNING" not in statuses
    assert main(["run", "--suite", str(suite), "--out", str(out), "--population-size", "1", "--no-progress"]) == 0
    assert _final_metrics(out) == reference


def _run_short_suite(tmp_path, losses: str):
    """SLOW_SUITE with these losses, cut to 20 steps; runs it (exit 0 expected) and returns its output folder."""
    suite = write_suite(
        tmp_path / "s.yaml",
        SLOW_SUITE.replace("[non_saturating, hinge]", losses)
        .replace("steps: 400", "steps: 20")
        .replace("eval_every: 50", "eval_every: 10"),
    )
    out = tmp_path / "out"
    assert main(["run", "--suite", str(suite), "--out", str(out), "--no-progress"]) == 0
    return out


def _raises(d_real, d_fake):
    """A broken third-party loss (L_D = L_G = error), for the fault test. It passes the contract check, which
    calls it on batches of 8, and breaks in training."""
    from ganbench.losses import non_saturating

    if d_real.shape[-1] > 8:
        raise RuntimeError("broken loss")
    return non_saturating(d_real, d_fake)


def test_failing_job_is_reported_and_the_suite_completes(tmp_path, monkeypatch):
    monkeypatch.setitem(LOSSES._entries, "broken", LossSpec(name="broken", fn=_raises))
    out = _run_short_suite(tmp_path, "[broken, hinge]")
    children = _children(out)
    failed = [r for r in children if r.data.params["loss"] == "broken"]
    done = [r for r in children if r.data.params["loss"] == "hinge"]
    assert len(failed) == 2 and all(r.info.status == "FAILED" for r in failed)
    assert all(r.data.tags["ganbench.error"] == "RuntimeError: broken loss" for r in failed)
    assert len(done) == 2 and all(r.data.tags["ganbench.status"] == "finished" for r in done)


def _oom_when_batched(d_real, d_fake):
    """Non-saturating (Goodfellow et al. 2014), L_D and L_G as non_saturating; runs out of memory when more
    than one member shares the model, like a population too large for its GPU."""
    from ganbench.losses import non_saturating

    if d_real.shape[0] > 1 and d_real.shape[-1] > 8:  # (the contract check's batches of 8 pass)
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    return non_saturating(d_real, d_fake)


def test_out_of_memory_population_is_split_and_retried(tmp_path, monkeypatch):
    monkeypatch.setitem(LOSSES._entries, "oom", LossSpec(name="oom", fn=_oom_when_batched))
    out = _run_short_suite(tmp_path, "[oom]")
    children = _children(out)
    assert len(children) == 2  # the two seeds, each its own run, trained one at a time after the split
    assert all(r.info.status == "FINISHED" and r.data.tags["ganbench.status"] == "finished" for r in children)


def _checkpoint_paths(suite_path: Path, out: Path) -> list[Path]:
    """Where the suite's final runs keep their checkpoints, one per run."""
    from ganbench.plan import contenders, default_hyper, run_config
    from ganbench.suite import load_suite

    suite = load_suite(str(suite_path))
    paths = []
    for contender in contenders(suite):
        hyper = default_hyper(suite, contender)
        config = run_config(suite, contender, hyper)
        paths += [out / "checkpoints" / f"{hyper.member(seed).key(config)}.pt" for seed in suite.seed_list]
    return paths


class _Foreign:
    """Not something a checkpoint holds: ``weights_only=True`` refuses to load it."""


def test_unreadable_checkpoints_are_set_aside_with_one_warning_and_their_runs_retrain(tmp_path, capfd):
    """Truncated, empty, garbage, or holding a foreign object: each is renamed to .corrupt and named in one
    warning line, its run trains from its start, and the suite ends as usual."""
    suite = write_suite(
        tmp_path / "s.yaml", SLOW_SUITE.replace("steps: 400", "steps: 20").replace("eval_every: 50", "eval_every: 10")
    )
    out = tmp_path / "out"
    paths = _checkpoint_paths(suite, out)
    assert len(paths) == 4
    paths[0].parent.mkdir(parents=True)
    torch.save({"step": 10, "g": torch.zeros(1000)}, paths[0])
    paths[0].write_bytes(paths[0].read_bytes()[:200])  # truncated
    paths[1].write_bytes(b"")
    paths[2].write_bytes(b"not a checkpoint at all \x00\xff" * 10)
    torch.save({"step": 10, "thing": _Foreign()}, paths[3])
    assert main(["run", "--suite", str(suite), "--out", str(out), "--no-progress"]) == 0
    err = capfd.readouterr().err
    warnings = [line for line in err.splitlines() if "warning: checkpoint" in line]
    assert len(warnings) == 4 and all(any(p.name in w for w in warnings) for p in paths), err
    assert "Traceback" not in err and "weights_only" not in err
    assert all(p.with_name(p.name + ".corrupt").exists() for p in paths)
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    for run in _children(out):
        assert run.info.status == "FINISHED"
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "w1_raw")]
        assert steps == [10, 20]  # trained from its start: the evaluation at step 10 is its own


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MB tmpfs (needs root; skipped where it cannot be mounted)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_a_full_disk_is_exit_2_with_one_line_and_a_rerun_gives_the_uninterrupted_table(tmp_path, small_disk):
    text = SLOW_SUITE.replace("steps: 400", "steps: 100").replace("eval_every: 50", "eval_every: 10")
    suite = write_suite(tmp_path / "faults.yaml", text)
    reference = tmp_path / "ref"
    assert main(["run", "--suite", str(suite), "--out", str(reference), "--population-size", "1", "--no-progress"]) == 0
    out = small_disk / "out"
    proc = _start(suite, out)
    _wait_for_mid_run_checkpoint(proc, out)
    filler = small_disk / "filler"
    with open(filler, "wb") as f, pytest.raises(OSError):  # the disk fills up under the running suite
        while True:
            f.write(b"\0" * (1 << 20))
            f.flush()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "no space left" in lines[0] and str(small_disk) in lines[0], err
    assert "needs about" in lines[0] and f"more in {out} (" in lines[0], err  # and what is free there
    filler.unlink()
    assert main(["run", "--suite", str(suite), "--out", str(out), "--population-size", "1", "--no-progress"]) == 0
    assert _final_metrics(out) == _final_metrics(reference)


def test_a_suite_whose_every_run_failed_exits_non_zero_with_no_result(tmp_path, monkeypatch, capfd):
    monkeypatch.setitem(LOSSES._entries, "broken", LossSpec(name="broken", fn=_raises))
    suite = write_suite(
        tmp_path / "s.yaml",
        SLOW_SUITE.replace("[non_saturating, hinge]", "[broken]")
        .replace("steps: 400", "steps: 20")
        .replace("eval_every: 50", "eval_every: 10"),
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--suite", str(suite), "--out", str(tmp_path / "out"), "--no-progress"])
    assert exit_info.value.code == 1
    assert "FAILED, no result" in capfd.readouterr().err
