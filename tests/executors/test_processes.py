"""The worker-process executor: local's numbers, retries, PostgreSQL stores, the costliest job first, events."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ganbench.cli import main
from tests import pg
from tests.conftest import GANBENCH, TINY_SUITE, env_for_subprocess, run_argv, write_suite
from tests.executors.helpers import _assert_each_job_once, _runs, _table


@pytest.mark.slow
def test_processes_executor_matches_local_and_runs_each_job_once(local_run, tmp_path):
    suite, local_out = local_run
    out = tmp_path / "out"
    # the same populations as the local run (2 seeds each), so the numbers must agree to the last digit
    args = run_argv(suite, out, "--executor", "processes", "--workers", "2")
    assert main(args) == 0
    client, children = _runs(f"sqlite:///{out / 'mlflow.db'}")
    _assert_each_job_once(client, children, 4)
    assert _table(out) == _table(local_out)


def _worker_pids(parent: int) -> list[int]:
    """The pool's spawned workers (not the resource tracker)."""
    pids = []
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in cmdline:
            pids.append(int(child))
    return pids


@pytest.mark.slow
def test_a_worker_that_dies_is_retried_and_the_suite_completes(tmp_path):
    suite = write_suite(
        tmp_path / "tiny.yaml",
        TINY_SUITE.replace("steps: 30", "steps: 400").replace("eval_every: 10", "eval_every: 50"),
    )
    out = tmp_path / "out"
    args = run_argv(suite, out, "--executor", "processes", "--workers", "2", "--population-size", "1")
    proc = subprocess.Popen(
        GANBENCH + args, env=env_for_subprocess(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not list((out / "checkpoints").glob("*.pt")):  # wait until workers are training
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    victims = _worker_pids(proc.pid)
    assert victims
    os.kill(victims[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    client, children = _runs(f"sqlite:///{out / 'mlflow.db'}")
    _assert_each_job_once(client, children, 4)


@pytest.mark.slow
@pytest.mark.skipif(not pg.available(), reason="PostgreSQL server binaries not installed (.ci/run installs them)")
def test_processes_against_postgresql_stores_run_each_job_once(tmp_path):
    suite = write_suite(tmp_path / "tiny.yaml", TINY_SUITE + "tuning: {trials: 4, steps: 20, batch: 2}\n")
    with pg.postgres_server(["mlflow", "optuna"]) as urls:
        stores = ["--tracking-uri", urls["mlflow"], "--optuna-storage", urls["optuna"]]
        args = run_argv(suite, tmp_path / "out", "--executor", "processes", "--workers", "2", *stores)
        assert main(args) == 0
        client, children = _runs(urls["mlflow"])
        finals = [r for r in children if r.data.tags.get("ganbench.phase") == "final"]
        _assert_each_job_once(client, finals, 4)
        trials = [r for r in children if r.data.tags.get("ganbench.phase") == "tune"]
        assert len(trials) == 2 * 4  # two contenders, four trials each, one run per trial
        import optuna

        studies = optuna.get_all_study_summaries(urls["optuna"])
        assert len(studies) == 2 and all(s.n_trials == 4 for s in studies)


def test_a_retried_jobs_repeated_evaluations_are_logged_once():
    """A job retried after its worker died resumes from its checkpoint and repeats the evaluations made after
    it; the driver's tracker logs each (member, step) once, the first report kept."""
    from ganbench.recording import MLflowTracker

    class Store:
        def __init__(self):
            self.logged = []

        def log(self, run_id, metrics=None, step=None, **_):
            self.logged.append((run_id, step, metrics))

    store = Store()
    tracker = MLflowTracker(store, ["a", "b"], dataset=None)
    for member, step, value in [(0, 50, 1.0), (1, 50, 2.0), (0, 100, 3.0), (0, 50, 9.0), (0, 100, 9.0), (0, 150, 4.0)]:
        tracker.on_eval(member, step, {"w1_raw": value}, samples=None)
    assert store.logged == [
        ("a", 50, {"w1_raw": 1.0}),
        ("b", 50, {"w1_raw": 2.0}),
        ("a", 100, {"w1_raw": 3.0}),
        ("a", 150, {"w1_raw": 4.0}),
    ]


def test_parallel_executors_start_the_costliest_jobs_first(tmp_path):
    """Longest processing time first: with one worker, jobs run in order of members x steps x (D steps + 1),
    so a long job never starts last while the other workers idle."""
    from dataclasses import replace

    from ganbench.config import Member
    from ganbench.data import DataOptions
    from ganbench.executors.job import Job
    from ganbench.executors.processes import ProcessExecutor
    from tests.executors.helpers import tiny_job_config

    config = tiny_job_config()
    one = (Member(0, 1e-3, 1e-3),)
    jobs = [
        Job(0, config, one, (), "cpu", DataOptions(), threads=1),  # cost 10 x 2
        Job(1, replace(config, n_critic=5), one, (), "cpu", DataOptions(), threads=1),  # 10 x 6
        Job(2, config, one * 2, (), "cpu", DataOptions(), threads=1),  # 2 x 10 x 2
    ]
    order = [job.job_id for job, _ in ProcessExecutor(workers=1).run(jobs, lambda event: None)]
    assert order == [1, 2, 0]
    # D steps set by the strategy (ttur_nc5) count as those set by the run
    from ganbench.executors.job import job_cost

    assert job_cost(replace(jobs[0], config=replace(config, strategy="ttur_nc5"))) == job_cost(jobs[1])


def test_every_event_of_a_process_job_reaches_the_driver_before_its_result(tmp_path):
    """A worker's events go through a queue flushed by a thread, its result through the pool's pipe: the driver
    hands a job's result on only after the job's last event (its runs' ends), however fast the job returns."""
    from collections import Counter

    from ganbench.config import Member
    from ganbench.data import DataOptions
    from ganbench.events import EndEvent
    from ganbench.executors.job import Job
    from ganbench.executors.processes import ProcessExecutor
    from tests.conftest import EVENTS_PER_JOB, emit_then_return
    from tests.executors.helpers import tiny_job_config

    config = tiny_job_config()
    jobs = [Job(k, config, (Member(k, 1e-3, 1e-3),), (), "cpu", DataOptions()) for k in range(40)]
    seen: Counter[int] = Counter()
    ended: set[int] = set()

    def on_event(event):
        seen[event.job_id] += 1
        if isinstance(event, EndEvent):
            ended.add(event.job_id)

    yielded = 0
    for job, outcome in ProcessExecutor(workers=2, job_runner=emit_then_return).run(jobs, on_event):
        assert outcome == [job.job_id]
        assert seen[job.job_id] == EVENTS_PER_JOB and job.job_id in ended  # no marker reached on_event
        yielded += 1
    assert yielded == len(jobs)
