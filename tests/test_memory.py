"""Memory: freed CPU blocks are reused (no page faults per step), and populations are sized to GPU memory."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
import torch
from mlflow import MlflowClient

from ganbench import executors, memory
from ganbench.cli import main
from ganbench.config import Member, RunConfig
from ganbench.data import DataOptions
from ganbench.executors import Job, run_job
from ganbench.memory import fit_population, free_gpu_bytes
from ganbench.models import ModelConfig
from ganbench.train import STOP_REQUESTED, Trainer
from tests.conftest import TINY_SUITE, record_population_sizes, write_suite

FAULTS_PER_STEP = textwrap.dedent(
    """
    import resource, sys
    import ganbench.train
    if sys.argv[1] == "off":
        ganbench.train.keep_freed_memory = lambda: False
    from ganbench.config import Member, RunConfig
    from ganbench.models import ModelConfig
    from ganbench.train import Trainer
    config = RunConfig(loss="non_saturating", strategy="adam_dcgan", dataset="ring8", batch_size=256, steps=10**6, eval_every=10**6,
                       model=ModelConfig(width=128, depth=2))
    trainer = Trainer(config, [Member(s, 2e-4, 2e-4) for s in range(8)])
    for _ in range(30):
        trainer.train_step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        trainer.train_step()
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
    """
)


def _faults_per_step(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", FAULTS_PER_STEP, mode], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_cpu_population_step_does_not_page_fault_its_activations_in_again():
    # the kept heap may still grow once in a while (a few dozen faults in a step): the better of two runs
    kept, default = min(_faults_per_step("on"), _faults_per_step("on")), _faults_per_step("off")
    assert default > 100, default  # glibc unmaps the MB-sized activations it frees...
    assert kept < default / 10, (kept, default)  # ...unless told to keep them


def test_fit_population_keeps_a_share_of_free_memory_and_at_least_one_member():
    gib = 1 << 30
    assert fit_population(64, fixed=gib, per_member=gib, free=None) == 64  # CPU: not sized
    assert fit_population(64, fixed=gib, per_member=gib, free=11 * gib) == 7  # (0.8 * 11 - 1) / 1
    assert fit_population(4, fixed=gib, per_member=gib, free=80 * gib) == 4  # never more than asked
    assert fit_population(64, fixed=gib, per_member=gib, free=gib) == 1  # one even when nothing fits
    assert free_gpu_bytes(torch.device("cpu")) is None


def test_a_worker_sharing_a_gpu_plans_for_its_share_of_the_memory():
    gib = 2**30
    # alone: the free memory plus this process's cached, unused blocks
    alone = memory.available_bytes(free=60 * gib, total=80 * gib, reserved=6 * gib, allocated=2 * gib)
    assert alone == 64 * gib
    # one of two workers: half of the device less what it holds, even though more is free right now
    half = memory.available_bytes(60 * gib, 80 * gib, 6 * gib, 2 * gib, share=0.5)
    assert half == 38 * gib
    # the other worker took most of the device: what is really free is the limit
    assert memory.available_bytes(10 * gib, 80 * gib, 0, 0, share=0.5) == 10 * gib
    assert memory.available_bytes(gib, 80 * gib, 0, 50 * gib, share=0.5) == 0  # over its share: nothing


def test_worker_processes_are_dealt_gpus_round_robin_and_know_how_many_share_theirs():
    assert executors.gpu_assignment(3, 2) == [(0, 2), (1, 1), (0, 2)]
    assert executors.gpu_assignment(2, 1) == [(0, 2), (0, 2)]
    assert executors.gpu_assignment(2, 4) == [(0, 1), (1, 1)]
    assert executors.gpu_assignment(2, 0) == []  # no GPU: workers are not assigned one


def test_a_population_is_sized_to_the_share_of_the_gpu_its_worker_was_given(monkeypatch):
    """The share reaches the sizing: the driver's (Ray's fraction) times the worker's (processes on a GPU)."""
    monkeypatch.setattr(memory, "free_gpu_bytes", lambda device, share=1.0: int(1000 * share))
    monkeypatch.setattr(memory, "member_bytes", lambda key, build, device: (100, 150))
    job = _job(None, 8)
    assert executors.job._fitting_size(job, None) == 4  # (0.8 * 1000 - 100) / 150
    assert executors.job._fitting_size(replace(job, gpu_share=0.5), None) == 2  # (0.8 * 500 - 100) / 150

    seen: list[Job] = []
    monkeypatch.setattr(executors.processes, "_WORKER_QUEUE", None)
    monkeypatch.setattr(executors.processes, "_WORKER_GPU_SHARE", 1.0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # restored after the test: _init_worker sets it
    gpus: queue.Queue = queue.Queue()
    gpus.put((1, 2))  # GPU 1, shared by two workers
    ids: queue.Queue = queue.Queue()
    ids.put(0)
    # the worker's own set-up (leave the driver's process group, die with it) must not touch this test process
    monkeypatch.setattr(executors.processes, "_leave_stopping_to_the_driver", lambda stop: None)

    class Events(queue.Queue):
        def cancel_join_thread(self) -> None:  # a multiprocessing queue's; nothing to cancel here
            pass

    executors.processes._init_worker(Events(), gpus, ids, [queue.Queue()])
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    executors.processes._worker_run(replace(job, gpu_share=0.5), runner=lambda job, emit: seen.append(job) or [])
    assert seen[0].gpu_share == 0.25


def _job(tmp_path, members: int) -> Job:
    config = RunConfig(
        loss="non_saturating",
        strategy="adam_dcgan",
        dataset="ring8",
        batch_size=32,
        steps=20,
        eval_every=10,
        eval_samples=500,
        model=ModelConfig(width=16, depth=2),
    )
    checkpoints = tuple(tmp_path / f"m{s}.pt" for s in range(members)) if tmp_path else ()
    return Job(0, config, tuple(Member(s, 1e-3, 1e-3) for s in range(members)), checkpoints, "cpu", DataOptions())


def test_a_population_that_does_not_fit_the_gpu_trains_in_parts_reported_under_its_own_indices(tmp_path, monkeypatch):
    """A GPU with room for 2 members (faked on the CPU): a job of 5 trains as 2 + 2 + 1, every member
    reports under its index in the job, and each ends exactly as in one population of 5."""
    whole: list[tuple] = []
    expected = run_job(_job(tmp_path / "whole", 5), whole.append)

    monkeypatch.setattr(memory, "free_gpu_bytes", lambda device, share=1.0: 1000)
    monkeypatch.setattr(memory, "member_bytes", lambda key, build, device: (100, 300))  # (800-100)/300 = 2
    sizes = record_population_sizes(monkeypatch)
    events: list[tuple] = []
    results = run_job(_job(tmp_path / "split", 5), events.append)

    assert sizes == [2, 2, 1]
    assert [e[2] for e in events if e[0] == "note"] == ["5 members do not fit in memory: 2 at a time"]
    assert sorted(e[2] for e in events if e[0] == "end") == [0, 1, 2, 3, 4]
    for part, one in zip(results, expected, strict=True):
        assert part.status == one.status == "finished"
        assert part.metrics == pytest.approx(one.metrics, rel=1e-4, abs=1e-6)
    evals = sorted((e[2], e[3]) for e in events if e[0] == "eval")
    assert evals == sorted((e[2], e[3]) for e in whole if e[0] == "eval")
    assert all((tmp_path / "split" / f"m{s}.pt").exists() for s in range(5))  # a checkpoint per member


def test_member_bytes_is_the_difference_of_two_measured_peaks_and_is_measured_once(monkeypatch):
    """The arithmetic and caching of the GPU probe (the peaks themselves need CUDA and are faked here)."""
    built: list[int] = []
    peaks = iter([1300, 1600])  # populations of one, then two members

    def fake_peak(device, work):
        work()
        return next(peaks)

    def build(n):
        built.append(n)
        return Trainer(_job(None, 1).config, [Member(0, 1e-3, 1e-3)] * n)

    monkeypatch.setattr(memory, "_peak_bytes", fake_peak)
    monkeypatch.setattr(memory, "_MEASURED", {})
    assert memory.member_bytes(("k",), build, torch.device("cpu")) == (1000, 300)
    assert memory.member_bytes(("k",), build, torch.device("cpu")) == (1000, 300)  # cached: no new peaks
    assert built == [1, 1, 2]  # an unmeasured population of one first, then the two measured ones


def test_a_configuration_of_which_two_members_run_out_of_memory_is_probed_once(monkeypatch):
    """The probe of two members runs out of memory: it is remembered as a population of one, so the halves
    the runner retries with (and later jobs of that configuration) do not probe again."""
    calls: list[int] = []
    error: list[Exception] = [torch.cuda.OutOfMemoryError("CUDA out of memory (faked)")]

    def fake_peak(device, work):
        calls.append(len(calls))
        if len(calls) % 2 == 0:  # the population of two
            raise error[0]
        return 1300

    monkeypatch.setattr(memory, "_peak_bytes", fake_peak)
    monkeypatch.setattr(memory, "_MEASURED", {})

    def build(n):
        return Trainer(_job(None, 1).config, [Member(0, 1e-3, 1e-3)] * n)

    fixed, per_member = memory.member_bytes(("big",), build, torch.device("cpu"))
    assert memory.fit_population(8, fixed, per_member, free=80 * 2**30) == 1
    assert memory.member_bytes(("big",), build, torch.device("cpu")) == (fixed, per_member)
    assert len(calls) == 2  # measured once
    error[0] = ValueError("not memory")
    with pytest.raises(ValueError):  # any other error of the probe is the job's error, not a size
        memory.member_bytes(("other",), build, torch.device("cpu"))
    assert ("other",) not in memory._MEASURED


def test_a_stop_between_parts_keeps_the_finished_part_and_a_rerun_completes(tmp_path, monkeypatch):
    """A population trained in parts (faked GPU room for one member) stopped after its first member ended:
    that run stays FINISHED, the other is KILLED, and a rerun finishes it without duplicating either."""
    monkeypatch.setattr(memory, "free_gpu_bytes", lambda device, share=1.0: 1000)
    monkeypatch.setattr(memory, "member_bytes", lambda key, build, device: (100, 700))
    original_end = executors.EmitTracker.on_end

    def end_then_stop(self, member, result):
        original_end(self, member, result)
        STOP_REQUESTED.set()

    monkeypatch.setattr(executors.EmitTracker, "on_end", end_then_stop)
    suite = write_suite(tmp_path / "tiny.yaml", TINY_SUITE.replace("[non_saturating, hinge]", "[hinge]"))
    args = ["run", "--suite", str(suite), "--out", str(tmp_path / "out"), "--no-progress"]
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert main(args) == 130
        runs = _children(tmp_path / "out")
        assert sorted(r.info.status for r in runs) == ["FINISHED", "KILLED"]
        STOP_REQUESTED.clear()
        monkeypatch.setattr(executors.EmitTracker, "on_end", original_end)
        assert main(args) == 0
    finally:
        STOP_REQUESTED.clear()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    runs = _children(tmp_path / "out")
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    assert len({r.data.tags["ganbench.key"] for r in runs}) == 2


def _children(out):
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    exp = client.get_experiment_by_name("ganbench/tiny").experiment_id
    return [r for r in client.search_runs([exp]) if "mlflow.parentRunId" in r.data.tags]


def _run_split_suite(tmp_path, monkeypatch, seeds: int, raise_on_part: int, exc: BaseException):
    """The tiny suite (one loss) with faked GPU room for one member per part; building part
    ``raise_on_part`` (0-based, counted over the whole run) raises ``exc`` once. Returns the exit code and
    the seeds of every population built."""
    monkeypatch.setattr(memory, "free_gpu_bytes", lambda device, share=1.0: 1000)
    monkeypatch.setattr(memory, "member_bytes", lambda key, build, device: (100, 700))
    built = []
    original = executors.job.Trainer

    def trainer(config, members, **kwargs):
        built.append([m.seed for m in members])
        if len(built) == raise_on_part + 1:
            raise exc
        return original(config, members, **kwargs)

    monkeypatch.setattr(executors.job, "Trainer", trainer)
    text = TINY_SUITE.replace("[non_saturating, hinge]", "[hinge]").replace("seeds: 2", f"seeds: {seeds}")
    suite = write_suite(tmp_path / "tiny.yaml", text)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return main(["run", "--suite", str(suite), "--out", str(tmp_path / "out"), "--no-progress"]), built
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def test_an_error_in_a_later_part_fails_only_the_members_not_yet_finished(tmp_path, monkeypatch):
    code, _ = _run_split_suite(tmp_path, monkeypatch, seeds=2, raise_on_part=1, exc=RuntimeError("boom"))
    assert code == 0
    runs = sorted(_children(tmp_path / "out"), key=lambda r: r.data.tags["ganbench.key"])
    assert sorted(r.data.tags["ganbench.status"] for r in runs) == ["failed", "finished"]
    assert ["boom" in r.data.tags.get("ganbench.error", "") for r in runs].count(True) == 1


def test_out_of_memory_in_a_later_part_retries_only_the_members_not_yet_finished(tmp_path, monkeypatch):
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory (faked)")
    code, built = _run_split_suite(tmp_path, monkeypatch, seeds=3, raise_on_part=1, exc=oom)
    assert code == 0
    seeds = [seed for part in built for seed in part]
    assert seeds.count(seeds[0]) == 1  # the member that had finished is not trained (or reloaded) again
    runs = _children(tmp_path / "out")
    assert len(runs) == 3 and len({r.data.tags["ganbench.key"] for r in runs}) == 3  # no duplicates
    assert {r.data.tags["ganbench.status"] for r in runs} == {"finished"}


def test_parts_never_mix_members_at_different_checkpoint_steps(tmp_path):
    """A retried job whose first attempt trained in parts: finished, half-trained and new members."""
    job = _job(tmp_path, 5)
    for k, step in [(0, 20), (1, 20), (2, 10)]:  # members 3 and 4 have no checkpoint yet
        # the keys every checkpoint holds (only the step matters here): a bare dict is refused on load
        stub = {"step": step, "status": "finished", "g": {}, "d": {}, "opt_g": {}, "opt_d": {}, "rng": {}}
        torch.save(stub, job.checkpoints[k])
    assert executors.job._parts(job, 2) == [[0, 1], [2], [3, 4]]
    assert executors.job._parts(job, 5) == [[0, 1], [2], [3, 4]]
    assert executors.job._parts(_job(None, 3), 5) == [[0, 1, 2]]


def test_an_out_of_memory_error_no_longer_holds_the_failed_populations_tensors():
    """The traceback of an out-of-memory error keeps the failed trainer's frames and tensors alive; they are
    released before the halves are retried."""
    import weakref

    def fail() -> None:
        big = torch.ones(1000)
        ref.append(weakref.ref(big))
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    ref: list = []
    try:
        fail()
    except torch.cuda.OutOfMemoryError as exc:
        assert ref[0]() is not None  # held by the traceback
        memory.release_after_oom(exc)
        assert ref[0]() is None


def test_releasing_an_out_of_memory_error_keeps_the_local_executor_going(monkeypatch):
    """The retry happens while the executor's generator is suspended inside its ``except``: releasing the
    error's memory must not finalize it, or the jobs after the failed one never run (seen on an H200)."""
    import weakref

    held: list = []

    def fake_run_job(job, emit):
        if job == "a":
            big = torch.ones(1000)
            held.append(weakref.ref(big))
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return job

    monkeypatch.setattr(executors.local, "run_job", fake_run_job)
    seen = []
    for job, outcome in executors.create_executor("local").run(["a", "b", "c"], None):
        if isinstance(outcome, BaseException):
            memory.release_after_oom(outcome)
            assert held[0]() is None
        seen.append(job)
    assert seen == ["a", "b", "c"]


def test_the_memory_probe_trains_eagerly_whatever_the_job_compiles(monkeypatch):
    """Compiling a probe population of each size would cost more than the training it sizes."""
    monkeypatch.setattr(memory, "free_gpu_bytes", lambda device, share=1.0: 1000)
    built: list[str] = []

    def spy(config, members, **kwargs):
        built.append(config.compile)

    monkeypatch.setattr(executors.job, "Trainer", spy)
    monkeypatch.setattr(memory, "member_bytes", lambda key, build, device: (build(2), (100, 150))[1])
    job = _job(None, 8)
    job = replace(job, config=replace(job.config, compile="reduce-overhead"))
    assert executors.job._fitting_size(job, None) == 4
    assert built == ["none"]
