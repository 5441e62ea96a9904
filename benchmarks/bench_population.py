"""Population scaling: N runs trained as one vectorized model vs the same N runs of the plain PyTorch loop
run one after another. Prints model-steps per second and their ratio for each N, measured in one run
(targets: N = 16 on a 2-core CPU >= 3x; N = 64 on one H100 >= 30x)."""

from __future__ import annotations

import argparse
import sys

from benchmarks.common import (
    PlainLoop,
    bench_config,
    git_commit,
    hardware,
    model_arguments,
    save,
    steps_per_second,
)
from ganbench.config import Member
from ganbench.train import Trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1,4,16,64")
    ap.add_argument("--steps", type=int, default=200, help="timed steps per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="best of this many measurements of each")
    ap.add_argument(
        "--label", default="", help="suffix of the result file (several model sizes side by side)"
    )
    model_arguments(ap)
    args = ap.parse_args()
    config = bench_config(args)
    # the plain loop's speed does not depend on N: N sequential runs take N times one run
    plain = PlainLoop(0, args.width, args.depth, args.batch, args.device)
    plain_sps = max(steps_per_second(plain.step, args.steps, args.device) for _ in range(args.rounds))
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        members = [Member(seed, 2e-4 * (1 + seed % 3), 2e-4) for seed in range(n)]
        trainer = Trainer(config, members, device=args.device)
        steps = max(args.steps // max(n // 8, 1), 20)
        pop_sps = max(steps_per_second(trainer.train_step, steps, args.device) for _ in range(args.rounds))
        model_steps = pop_sps * n
        rows.append({"members": n, "population_model_steps_per_s": round(model_steps, 1),
                     "plain_sequential_model_steps_per_s": round(plain_sps, 1),
                     "ratio": round(model_steps / plain_sps, 2)})  # fmt: skip
        print(f"N={n:3d}: population {model_steps:9.1f} model-steps/s, plain sequential {plain_sps:8.1f}, "
              f"ratio {model_steps / plain_sps:6.2f}x")  # fmt: skip
        del trainer
    payload = {
        "benchmark": "population scaling",
        "command": " ".join(["python -m benchmarks.bench_population"] + sys.argv[1:]),
        "commit": git_commit(),
        "hardware": hardware(),
        "device": args.device,
        "model": f"MLP width {args.width} depth {args.depth}, batch {args.batch}, non_saturating, Adam",
        "rows": rows,
        "targets": {"cpu N=16": ">= 3x", "H100 N=64": ">= 30x"},
    }
    kind = args.device.split(":")[0]
    suffix = f"_{args.label}" if args.label else ""
    print(f"written {save(f'population_{kind}{suffix}', payload)}")


if __name__ == "__main__":
    main()
