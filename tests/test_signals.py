"""Stopping a suite that trains in worker processes: a signal to the driver or to its whole process group stops
every worker cleanly (runs KILLED, exit 130, no traceback); a SIGKILLed driver leaves no worker behind."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import GANBENCH, env_for_subprocess, run_argv, write_suite

LONG_SUITE = """
name: stops
losses: [non_saturating, hinge]
strategies: [adam_dcgan]
datasets: [ring8]
seeds: 2
steps: 5000
batch_size: 32
eval_every: 10
eval_samples: 200
models:
  points: {name: mlp, width: 16, depth: 2, latent_dim: 2}
"""


def _start(tmp_path: Path, executor: str = "processes") -> tuple[subprocess.Popen, Path]:
    """The suite on two workers (processes, or a local Ray cluster), in its own session (so a signal to its group
    reaches nothing else)."""
    suite, out = write_suite(tmp_path / "stops.yaml", LONG_SUITE), tmp_path / "out"
    args = run_argv(suite, out, "--population-size", "1", "--executor", executor, "--workers", "2")
    proc = subprocess.Popen(
        GANBENCH + args,
        env=env_for_subprocess(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not list((out / "checkpoints").glob("*.pt")):  # the workers train
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.1)
    return proc, out


def _processes() -> dict[int, list[str]]:
    """Every process's /proc stat fields after its name: state, ppid, pgrp, session, ..."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
    return found


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the workers, captured before any signal)."""
    return [p for p, fields in _processes().items() if int(fields[1]) == pid]


def _in_session(sid: int) -> list[int]:
    """The live processes of session ``sid`` (the driver's, started with start_new_session)."""
    return [p for p, fields in _processes().items() if int(fields[3]) == sid and fields[0] != "Z"]


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _statuses(out: Path) -> list[str]:
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("ganbench/stops").experiment_id
    return [r.info.status for r in client.search_runs([experiment])]


def _assert_stopped_cleanly(proc: subprocess.Popen, out: Path, workers: list[int]) -> None:
    _, err = proc.communicate(timeout=90)  # a hang fails here
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "rerun the same command to resume" in err
    statuses = _statuses(out)
    assert len(statuses) == 5 and set(statuses) == {"KILLED"}, err  # 4 runs and the suite run: none left RUNNING
    assert workers and not [w for w in workers if _alive(w)]


@pytest.mark.slow
def test_sigterm_to_the_driver_stops_every_worker_cleanly(tmp_path):
    proc, out = _start(tmp_path)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    _assert_stopped_cleanly(proc, out, workers)


@pytest.mark.slow
def test_ctrl_c_to_the_group_twice_stops_at_once_without_a_traceback(tmp_path):
    """A terminal's Ctrl-C reaches every process of the group: the workers leave stopping to the driver (no
    KeyboardInterrupt in them), and a second Ctrl-C ends the workers at once."""
    proc, out = _start(tmp_path)
    workers = _children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    _assert_stopped_cleanly(proc, out, workers)


@pytest.mark.slow
def test_a_sigkilled_driver_leaves_no_worker_behind(tmp_path):
    proc, _ = _start(tmp_path)
    workers = _children(proc.pid)
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 30
    while [w for w in workers if _alive(w)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workers and not [w for w in workers if _alive(w)]


def test_a_stop_signal_while_the_runs_are_closed_lets_the_closing_finish_and_the_next_one_does_not():
    """The second Ctrl-C of a pair often lands while the stopping suite marks its runs KILLED: that one is let
    pass (the runs would stay RUNNING), a third is not (a store that hangs must not hold the user)."""
    from ganbench.signals import _on_stop_signal, closing_records
    from ganbench.train import STOP_REQUESTED

    STOP_REQUESTED.set()  # the first signal came
    try:
        with closing_records():
            _on_stop_signal(signal.SIGINT, None)  # absorbed
            with pytest.raises(KeyboardInterrupt):
                _on_stop_signal(signal.SIGINT, None)
        with closing_records():  # a new closing absorbs one again
            _on_stop_signal(signal.SIGINT, None)
        with pytest.raises(KeyboardInterrupt):  # outside a closing, a second signal stops at once
            _on_stop_signal(signal.SIGINT, None)
    finally:
        STOP_REQUESTED.clear()


def test_workers_start_with_stop_signals_blocked_and_the_driver_loses_none():
    """A stop signal that comes while worker processes start is delivered to the driver once they started (it
    was lost while the driver ignored signals for that moment); a worker discards the one it got as a member of
    the group, and lives on outside it."""
    import multiprocessing as mp
    import threading

    from ganbench.signals import blocked_for_children
    from tests.signal_child import report_start

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are handled on the main thread only")
    got: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    try:
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        with blocked_for_children():
            child = ctx.Process(target=report_start, args=(queue,))
            child.start()
            os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl-C, in the middle of the start
            # held until the block ends, or taken by another thread of this process (which does not block it)
            # and handled here all the same; ignored (the old way), it was lost
        for _ in range(100):
            if got:
                break
            time.sleep(0.01)
        assert got == [signal.SIGINT]
        assert queue.get(timeout=60) is True  # it began with both blocked
        assert queue.get(timeout=60) is True  # the pending SIGTERM did not kill it; it left the group
        child.join(timeout=30)
        assert child.exitcode == 0
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray not installed")
def test_sigterm_to_the_driver_stops_a_ray_run_cleanly(tmp_path):
    """On a local Ray cluster: the tasks in flight are cancelled (they resume from their checkpoints), every run
    ends KILLED, exit 130, and the cluster's processes go with the driver."""
    proc, out = _start(tmp_path, "ray")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "rerun the same command to resume" in err, err
    statuses = _statuses(out)
    assert len(statuses) == 5 and set(statuses) == {"KILLED"}, statuses
    deadline = time.monotonic() + 60
    while _in_session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _in_session(proc.pid), "processes of the Ray cluster outlived the driver"
