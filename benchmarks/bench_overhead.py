"""Single-run overhead: ganbench's trainer (a population of one) vs the plain PyTorch loop, same model, loss,
batch and optimizer. Prints the ratio of steps per second measured in one run (target >= 0.95)."""

from __future__ import annotations

import argparse
import sys

from benchmarks.common import PlainLoop, bench_config, git_commit, hardware, model_arguments, save, steps_per_second
from ganbench.config import Member
from ganbench.train import Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3, help="alternate the two this many times; best of each")
    model_arguments(ap)
    args = ap.parse_args()
    config = bench_config(args)
    trainer = Trainer(config, [Member(0, 2e-4, 2e-4)], device=args.device)
    plain = PlainLoop(0, args.width, args.depth, args.batch, args.device)
    ours, base = [], []
    for _ in range(args.rounds):
        base.append(steps_per_second(plain.step, args.steps, args.device))
        ours.append(steps_per_second(trainer.train_step, args.steps, args.device))
    ratio = max(ours) / max(base)
    payload = {
        "benchmark": "single-run overhead",
        "command": " ".join(["python -m benchmarks.bench_overhead"] + sys.argv[1:]),
        "commit": git_commit(),
        "hardware": hardware(),
        "device": args.device,
        "model": f"MLP width {args.width} depth {args.depth}, batch {args.batch}, non_saturating, Adam",
        "plain_steps_per_s": round(max(base), 1),
        "ganbench_steps_per_s": round(max(ours), 1),
        "ratio": round(ratio, 3),
        "target": ">= 0.95",
    }
    print(f"plain loop {max(base):.1f} steps/s, ganbench {max(ours):.1f} steps/s, ratio {ratio:.3f} (target >= 0.95)")
    kind = args.device.split(":")[0]
    print(f"written {save(f'overhead_{kind}', payload)}")


if __name__ == "__main__":
    main()
