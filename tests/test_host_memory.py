"""RAM on the CPU: a member's need is estimated from what autograd keeps, populations are sized to the RAM that
is available, and a suite of which one run cannot fit is refused before anything is written."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from ganbench import executors, memory
from ganbench.cli import main
from ganbench.config import Member, RunConfig
from ganbench.data import DataOptions
from ganbench.executors import Job, run_job
from ganbench.models import ModelConfig
from ganbench.train import Trainer
from tests.conftest import TINY_SUITE, record_population_sizes, run_argv, write_suite


def test_saved_bytes_count_the_activations_while_their_graph_lives():
    batch, width = 512, 256
    layers = [torch.nn.Linear(width, width) for _ in range(3)]
    x = torch.randn(batch, width, requires_grad=True)
    with memory.SavedBytes() as saved:
        h = x
        for layer in layers:
            h = torch.relu(layer(h))
        live_in_graph = saved.live
        h.sum().backward()
    activations = batch * width * 4
    assert live_in_graph >= 3 * activations  # each layer's input (and its relu's output) is kept for backward
    assert saved.peak == live_in_graph
    del h
    assert saved.live == 0  # the graph is freed after backward: nothing counted stays


def test_a_storage_saved_by_several_operations_counts_once():
    """x and w are each saved by both products (w.t() is a view of w's storage): one storage each."""
    x = torch.randn(512, 256, requires_grad=True)
    w = torch.randn(256, 256, requires_grad=True)
    with memory.SavedBytes() as saved:
        y = (x @ w).sum() + (x @ w.t()).sum()
    assert saved.peak == (x.numel() + w.numel()) * 4
    del y
    assert saved.live == 0 and saved.holders == {}


def test_fit_host_keeps_a_share_of_the_ram_and_may_say_none_fits():
    assert memory.fit_host(16, 100, 1000) == 8  # 80 % of 1,000 bytes holds 8 members of 100
    assert memory.fit_host(4, 100, 1000) == 4
    assert memory.fit_host(4, 2000, 1000) == 0
    assert memory.fit_host(4, 100, None) == 4  # RAM unknown: not sized


def test_available_ram_is_read_from_the_system():
    available = memory.host_available_bytes()
    assert available is not None and available > 0


RSS_OF_A_STEP = textwrap.dedent(
    """
    import resource, sys
    from ganbench.config import Member, RunConfig
    from ganbench.models import ModelConfig
    from ganbench.train import Trainer
    batch, width, members = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    config = RunConfig(loss=sys.argv[4], strategy="adam_dcgan", dataset="ring8", batch_size=batch, steps=10,
                       eval_every=10, eval_samples=500, model=ModelConfig(width=width, depth=2))
    trainer = Trainer(config, [Member(s, 1e-4, 1e-4) for s in range(members)])
    with open("/proc/self/statm") as f:
        before = int(f.read().split()[1]) * resource.getpagesize()
    trainer.train_step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)
    """
)
BATCH, WIDTH, MEMBERS = 32768, 512, 2  # a batch large enough for the activations to dominate


def _config(loss: str, batch: int = BATCH) -> RunConfig:
    return RunConfig(
        loss=loss,
        strategy="adam_dcgan",
        dataset="ring8",
        batch_size=batch,
        steps=10,
        eval_every=10,
        eval_samples=500,
        model=ModelConfig(width=WIDTH, depth=2),
    )


def _estimate(loss: str) -> int:
    return MEMBERS * memory.host_member_bytes(lambda c: Trainer(c, [Member(0, 1e-4, 1e-4)]), _config(loss))


@pytest.mark.parametrize("loss", ["non_saturating", "r1"])
def test_the_estimate_extends_what_autograd_keeps_at_small_batches_to_the_runs_batch(loss):
    """What autograd keeps in a step at the run's batch (measured there, parameters not counted), times the
    activation factor, is the estimate, within 10 % plus the parameters' state and the evaluation samples.
    R1's penalty doubles what a step keeps at a large batch; the probe must see it."""
    trainer = Trainer(_config(loss), [Member(s, 1e-4, 1e-4) for s in range(MEMBERS)])
    with memory.SavedBytes(ignore=memory.parameter_storages(trainer)) as saved:
        trainer.train_step()
    kept = memory.ACTIVATION_FACTOR * saved.peak
    state = 5 * sum(p.numel() * p.element_size() for m in (trainer.g, trainer.d) for p in m.parameters())
    samples = MEMBERS * 500 * 2 * 4
    assert 0.9 * kept <= _estimate(loss) <= 1.1 * kept + state + samples, (kept, _estimate(loss))


def test_a_penalty_that_keeps_more_for_backward_is_estimated_larger():
    assert _estimate("r1") > 1.5 * _estimate("non_saturating")


@pytest.mark.parametrize("loss", ["non_saturating", "r1"])
def test_the_estimate_covers_the_peak_rss_a_real_step_adds(loss):
    """The RSS a step adds in a fresh process varies between processes and machines (the allocator reuses pages
    touched before it: 0.08-3.4 GB measured for this step), so it is checked only as what the estimate must
    cover; how far above the need the estimate is, is checked against what autograd keeps (above)."""
    out = subprocess.run(
        [sys.executable, "-c", RSS_OF_A_STEP, str(BATCH), str(WIDTH), str(MEMBERS), loss],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = int(out.stdout.strip().splitlines()[-1])
    assert measured <= _estimate(loss), (measured, _estimate(loss))


def _job(members: int) -> Job:
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
    return Job(0, config, tuple(Member(s, 1e-3, 1e-3) for s in range(members)), (), "cpu", DataOptions())


def test_a_cpu_population_that_does_not_fit_the_ram_trains_in_parts(monkeypatch):
    """RAM for 2 members (faked): a job of 5 trains as 2 + 2 + 1, says so once, and every member ends as in
    one population of 5."""
    expected = run_job(_job(5), lambda event: None)
    per_member = executors.job.host_bytes(_job(5).config, _job(5).members[0], None)
    assert per_member > 0
    monkeypatch.setattr(memory, "host_available_bytes", lambda: int(2.5 * per_member / memory.HOST_HEADROOM))
    sizes = record_population_sizes(monkeypatch)
    events: list[tuple] = []
    results = run_job(_job(5), events.append)
    assert sizes == [2, 2, 1]
    assert [e[2] for e in events if e[0] == "note"] == ["5 members do not fit in memory: 2 at a time"]
    for part, one in zip(results, expected, strict=True):
        assert part.status == one.status == "finished"
        assert part.metrics == pytest.approx(one.metrics, rel=1e-4, abs=1e-6)


def test_a_cpu_job_that_fits_trains_as_one_population(monkeypatch):
    sizes = record_population_sizes(monkeypatch)
    run_job(_job(3), lambda event: None)
    assert sizes == [3]


def test_a_suite_whose_run_cannot_fit_in_ram_is_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(memory, "host_available_bytes", lambda: 4096)
    suite = write_suite(tmp_path / "tiny.yaml", TINY_SUITE)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stop:
        main(run_argv(suite, out, "--executor", "processes", "--workers", "2"))
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert (
        "needs about" in err[0]
        and "of RAM for each of 2 worker processes" in err[0]
        and "4.0 KiB are available" in err[0]
    )
    assert "lower batch_size" in err[0] and "fewer --workers" in err[0]
    assert not (out / "mlflow.db").exists()
