"""Population scaling: N runs trained as one vectorized model vs the same N runs of the plain PyTorch loop
run one after another. Prints model-steps per second and their ratio for each N, measured in one run
(targets: N = 16 on a 2-core CPU >= 3x; N = 64 on one H100 >= 30x). With ``--compile [MODE]``, also the same
population with its steps compiled (the run option ``compile``), against it eager."""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys

from benchmarks.common import (
    PlainLoop,
    bench_config,
    first_steps_seconds,
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
    ap.add_argument("--rounds", type=int, default=3, help="alternate the two this many times per N")
    ap.add_argument("--label", default="", help="suffix of the result file (several model sizes side by side)")
    ap.add_argument(
        "--compile",
        nargs="?",
        const="default",
        default="none",
        choices=["none", "default", "reduce-overhead"],
        help="also time the population with the run option compile (its steps under torch.compile) "
        "against the same population eager",
    )
    model_arguments(ap)
    args = ap.parse_args()
    config = bench_config(args)
    # the plain loop's speed does not depend on N: N sequential runs take N times one run
    plain = PlainLoop(0, args.width, args.depth, args.batch, args.device)
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        members = [Member(seed, 2e-4 * (1 + seed % 3), 2e-4) for seed in range(n)]
        trainer = Trainer(config, members, device=args.device)
        compiled = None
        if args.compile != "none":
            compiled = Trainer(dataclasses.replace(config, compile=args.compile), members, device=args.device)
            compile_seconds = first_steps_seconds(compiled, args.device)
        steps = max(args.steps // max(n // 8, 1), 20)
        pop, base, comp = [], [], []
        for _ in range(args.rounds):  # alternated, so a slow spell of a shared machine hits both sides
            base.append(steps_per_second(plain.step, args.steps, args.device))
            pop.append(steps_per_second(trainer.train_step, steps, args.device) * n)
            if compiled is not None:
                comp.append(steps_per_second(compiled.train_step, steps, args.device) * n)
        paired = statistics.median(p / b for p, b in zip(pop, base))
        row = {
            "members": n,
            "population_model_steps_per_s": round(max(pop), 1),
            "plain_sequential_model_steps_per_s": round(max(base), 1),
            "ratio": round(max(pop) / max(base), 2),
            "median_paired_ratio": round(paired, 2),
            "rounds": {"population": [round(x, 1) for x in pop], "plain": [round(x, 1) for x in base]},
        }
        if compiled is not None:
            row.update(
                compile_s=round(compile_seconds, 1),
                compiled_model_steps_per_s=round(max(comp), 1),
                compiled_over_eager=round(statistics.median(c / p for c, p in zip(comp, pop)), 2),
                compiled_steps_ran_compiled=compiled._d_loss.active and compiled._g_loss.active,
            )
        rows.append(row)
        print(
            f"N={n:3d}: population {max(pop):9.1f} model-steps/s, plain sequential {max(base):8.1f}, "
            f"ratio {max(pop) / max(base):6.2f}x (best of each), {paired:6.2f}x (median of rounds)"
        )
        if compiled is not None:
            print(
                f"       compiled ({args.compile}) {max(comp):9.1f} model-steps/s, "
                f"{row['compiled_over_eager']:.2f}x eager (median of rounds), compiling took {compile_seconds:.1f} s"
            )
        del trainer
    payload = {
        "benchmark": "population scaling",
        "command": " ".join(["python -m benchmarks.bench_population"] + sys.argv[1:]),
        "commit": git_commit(),
        "hardware": hardware(),
        "device": args.device,
        "model": f"MLP width {args.width} depth {args.depth}, batch {args.batch}, non_saturating, Adam",
        "compiled": args.compile != "none",
        "compile_mode": args.compile,
        "rows": rows,
        "targets": {"cpu N=16": ">= 3x", "H100 N=64": ">= 30x"},
    }
    kind = args.device.split(":")[0]
    suffix = f"_{args.label}" if args.label else ""
    print(f"written {save(f'population_{kind}{suffix}', payload)}")


if __name__ == "__main__":
    main()
