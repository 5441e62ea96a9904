"""The CUDA paths: fused stacked Adam, resume, the memory probe, the out-of-memory split, a suite
with ``--device cuda``. Marked ``gpu``: skipped where no CUDA device is present (CI), run with ``pytest -m gpu``
on a machine with one (``scripts/gpu_check.sh``). The population-vs-alone equivalence runs on CUDA from
``tests/test_train.py``."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest
import torch
from torch.testing import assert_close

from ganbench import executors, memory
from ganbench.config import Member
from ganbench.data import DataOptions
from ganbench.executors import Job, run_job
from ganbench.models import ModelConfig
from ganbench.optim import StackedAdam
from ganbench.train import Trainer, train
from tests.conftest import GANBENCH, env_for_subprocess, record_population_sizes
from tests.test_train import TINY  # the same tiny run, on the GPU

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stacked_adam_on_cuda_matches_torch_fused_adam_per_member(dtype):
    """Members with different (lr, beta1) take the row-view path of the fused kernel; one is inactive."""
    gen = torch.Generator(device="cuda").manual_seed(0)
    w = torch.randn(4, 6, 5, device="cuda", dtype=dtype, generator=gen)
    lrs, beta1s = [1e-2, 1e-2, 3e-3, 1e-1], [0.5, 0.5, 0.0, 0.9]
    stacked = torch.nn.Parameter(w.clone())
    opt = StackedAdam([stacked], torch.tensor(lrs, dtype=dtype, device="cuda"), torch.tensor(beta1s), 0.999)
    singles = [torch.nn.Parameter(w[i].clone()) for i in range(4)]
    refs = [torch.optim.Adam([p], lr=lr, betas=(b1, 0.999), fused=True) for p, lr, b1 in zip(singles, lrs, beta1s)]
    active = torch.tensor([True, True, True, False], device="cuda")
    for _ in range(6):
        grad = torch.randn(4, 6, 5, device="cuda", dtype=dtype, generator=gen)
        stacked.grad = grad
        opt.step(active)
        for i, (p, ref) in enumerate(zip(singles, refs)):
            if bool(active[i]):
                p.grad = grad[i].clone()
                ref.step()
    for i in range(4):
        assert_close(stacked.detach()[i], singles[i].detach())
    assert_close(stacked.detach()[3], w[3], rtol=0, atol=0)  # the inactive member never moved


def test_cuda_run_is_deterministic_and_resumes_from_its_checkpoint(tmp_path):
    config = dataclasses.replace(TINY, strategy="adam_dcgan+ema")
    full = train(config, [Member(0, 1e-3, 1e-3)], device="cuda")[0]
    again = train(config, [Member(0, 1e-3, 1e-3)], device="cuda")[0]
    assert full.status == "finished" and full.metrics == again.metrics
    ckpt = [tmp_path / "run.pt"]
    Trainer(dataclasses.replace(config, steps=40), [Member(0, 1e-3, 1e-3)], device="cuda", checkpoints=ckpt).run()
    resumed = Trainer(config, [Member(0, 1e-3, 1e-3)], device="cuda", checkpoints=ckpt)
    (result,) = resumed.run()
    assert resumed.step == 60
    assert result.metrics == full.metrics


def _job(members: int, tmp_path=None, **config) -> Job:
    cfg = dataclasses.replace(TINY, steps=20, eval_every=10, eval_samples=500, **config)
    checkpoints = tuple(tmp_path / f"m{s}.pt" for s in range(members)) if tmp_path else ()
    return Job(0, cfg, tuple(Member(s, 1e-3, 1e-3) for s in range(members)), checkpoints, "cuda", DataOptions())


def test_the_memory_probe_measures_real_peaks_and_sizes_the_population(monkeypatch):
    """On a real GPU: a member costs a positive number of bytes, more members cost more, and a device with
    room for two and a half members (by the probe's own measurement) trains a job of 5 as 2 + 2 + 1."""
    monkeypatch.setattr(memory, "_MEASURED", {})
    job = _job(5, batch_size=4096, model=ModelConfig(width=512, depth=3))
    evaluator = executors.evaluator_for(job.config, job.data)
    assert executors.job._fitting_size(job, evaluator) == 5  # an H100/H200 holds 5 such members easily
    ((key, (fixed, per_member)),) = memory._MEASURED.items()
    assert per_member > 4096 * 512 * 4  # at least one activation of one layer per member
    assert fixed >= 0
    room = int((fixed + 2.5 * per_member) / memory.GPU_HEADROOM)
    monkeypatch.setattr(memory, "free_gpu_bytes", lambda device, share=1.0: room)
    sizes = record_population_sizes(monkeypatch)
    events: list[tuple] = []
    results = run_job(job, events.append)
    assert sizes == [2, 2, 1]
    assert all(r.status == "finished" for r in results)


OOM_SUITE = """
name: gpu-oom
losses: [non_saturating]
strategies: [adam_dcgan]
datasets: [ring8]
seeds: 4
steps: 20
batch_size: 8192
eval_every: 10
eval_samples: 500
models:
  points: {name: mlp, width: 1024, depth: 3, latent_dim: 2}
"""


def test_a_real_cuda_out_of_memory_error_splits_the_population(tmp_path, monkeypatch):
    """The planner is told every member fits, but the process may use only about one and a half members'
    worth of the GPU: the population of 4 runs out of memory for real, and the runner retries it in halves
    until every member has finished."""
    from mlflow import MlflowClient

    from ganbench import runner
    from ganbench.cli import main

    config = dataclasses.replace(
        TINY, steps=20, eval_every=10, eval_samples=500, batch_size=8192, model=ModelConfig(width=1024, depth=3)
    )
    monkeypatch.setattr(memory, "_MEASURED", {})
    probe = lambda n: Trainer(config, [Member(0, 1e-3, 1e-3)] * n, device="cuda")  # noqa: E731
    fixed, per_member = memory.member_bytes(("oom-test",), probe, torch.device("cuda"))
    suite = tmp_path / "oom.yaml"
    suite.write_text(OOM_SUITE)
    monkeypatch.setattr(executors.job, "_fitting_size", lambda job, evaluator: len(job.members))
    seen: list[tuple[bool, str]] = []  # not the exceptions: their tracebacks would hold the failed tensors
    original = runner.Runner._recover

    def spy(self, p, job, exc, *args, **kwargs):
        seen.append((memory.is_oom(exc), repr(exc)[:200]))
        return original(self, p, job, exc, *args, **kwargs)

    monkeypatch.setattr(runner.Runner, "_recover", spy)
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    cap = torch.cuda.memory_allocated() + fixed + 1.5 * per_member
    torch.cuda.set_per_process_memory_fraction(min(cap / total, 1.0))
    try:
        code = main(["run", "--suite", str(suite), "--out", str(tmp_path / "out"), "--device", "cuda", "--no-progress"])
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
        torch.cuda.empty_cache()
    assert code == 0
    assert seen and all(oom for oom, _ in seen), seen
    client = MlflowClient(f"sqlite:///{tmp_path / 'out' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("ganbench/gpu-oom").experiment_id
    children = [r for r in client.search_runs([exp]) if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 4
    statuses = [(r.data.tags["ganbench.status"], r.data.tags.get("ganbench.error")) for r in children]
    assert all(status == "finished" for status, _ in statuses), statuses


def test_the_smoke_suite_runs_from_the_command_line_on_cuda(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        GANBENCH + ["run", "--suite", "smoke", "--device", "cuda", "--out", str(out), "--no-progress"],
        env=env_for_subprocess(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "report" / "summary.csv").exists()
    assert "Traceback" not in proc.stderr
