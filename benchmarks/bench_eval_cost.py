"""Evaluation cost: the share of a suite's wall time spent computing metrics (evaluators and the sample
generation they need), measured in one in-process run of the suite."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import git_commit, hardware, save
from ganbench.cli import main as ganbench_main
from ganbench.metrics import evaluate as evaluate_mod
from ganbench.train import Trainer


class Clock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--suite", default="losses")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    ap.add_argument("--out", type=Path, help="output folder (default: a temporary one)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="ganbench-evalcost-"))
    clock = Clock()
    Trainer.evaluate = clock.wrap(Trainer.evaluate)  # sample generation + every evaluator call
    original = evaluate_mod.create_evaluator
    evaluate_mod.create_evaluator = clock.wrap(original)  # real-data statistics
    cli_args = ["run", "--suite", args.suite, "--out", str(out), "--device", args.device, "--no-progress"] + (
        ["--quick"] if args.quick else []
    )
    start = time.perf_counter()
    code = ganbench_main(cli_args)
    wall = time.perf_counter() - start
    import torch

    cuda = torch.cuda.is_available() and args.device != "cpu"
    share = clock.seconds / wall
    payload = {
        "benchmark": "evaluation cost",
        "command": " ".join(["python -m benchmarks.bench_eval_cost"] + sys.argv[1:]),
        "commit": git_commit(),
        "hardware": hardware(),
        "suite": args.suite + (" --quick" if args.quick else ""),
        "device": "cuda" if cuda else "cpu",
        "exit_code": code,
        "wall_s": round(wall, 1),
        "metrics_s": round(clock.seconds, 1),
        "metrics_share": round(share, 3),
    }
    print(f"suite {payload['suite']}: wall {wall:.1f} s, metrics {clock.seconds:.1f} s, share {share:.1%}")
    print(
        f"written {save('eval_cost_' + args.suite + ('_quick' if args.quick else '') + ('_cuda' if cuda else ''), payload)}"
    )


if __name__ == "__main__":
    main()
