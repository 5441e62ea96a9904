"""Memory: freed CPU blocks are reused (no page faults per step), and populations are sized to GPU memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

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
    out = subprocess.run(
        [sys.executable, "-c", FAULTS_PER_STEP, mode], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_cpu_population_step_does_not_page_fault_its_activations_in_again():
    kept, default = _faults_per_step("on"), _faults_per_step("off")
    assert default > 100, default  # glibc unmaps the MB-sized activations it frees...
    assert kept < default / 10, (kept, default)  # ...unless told to keep them
