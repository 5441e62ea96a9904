"""Where a population step's time goes on a GPU: torch.profiler over a few steps of a population of the
`losses` suite's MLP. Prints wall time per step, GPU kernel time per step, kernel launches per step and the
operators that take the most CPU (launch) and GPU time. Used by scripts/gpu_check.sh."""

from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.common import bench_config, model_arguments
from ganbench.config import Member
from ganbench.train import Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--members", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    model_arguments(ap)
    args = ap.parse_args()
    trainer = Trainer(
        bench_config(args), [Member(s, 2e-4, 2e-4) for s in range(args.members)], device=args.device
    )
    for _ in range(10):
        trainer.train_step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        trainer.train_step()
    torch.cuda.synchronize()
    wall = (time.perf_counter() - start) / args.steps
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(args.steps):
            trainer.train_step()
        torch.cuda.synchronize()
    events = prof.key_averages()
    gpu_us = sum(e.self_device_time_total for e in events) / args.steps
    launches = sum(
        e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC")
    )
    print(
        f"members {args.members}: wall {wall * 1e3:.2f} ms/step (unprofiled), GPU kernels {gpu_us / 1e3:.2f} ms/step, "
        f"{launches / args.steps:.0f} kernel launches/step"
    )
    print(events.table(sort_by="self_device_time_total", row_limit=15, max_name_column_width=50))
    print(events.table(sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=50))


if __name__ == "__main__":
    main()
