"""Mixed populations vs one population per contender: the same members (``--trials`` per loss, one D step, the
``losses`` suite's MLP by default) trained as populations of one loss each (the packing by contender) and as
populations of several losses sharing the model (``--size`` members at most, the population cap). Prints
member-steps per second of both, timed alternately in ``--rounds`` rounds."""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time

import torch

from benchmarks.common import bench_config, git_commit, hardware, model_arguments, save
from ganbench.config import Member
from ganbench.losses import LOSSES
from ganbench.plan import chunks
from ganbench.train import Trainer


def seconds(trainers: list[Trainer], steps: int, device: str) -> float:
    """Wall time of ``steps`` steps of every trainer, one after another (as one worker trains its jobs)."""
    start = time.perf_counter()
    for trainer in trainers:
        for _ in range(steps):
            trainer.train_step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--losses", default=",".join(LOSSES.names()))
    ap.add_argument("--trials", type=int, default=4, help="members per loss")
    ap.add_argument("--size", type=int, default=16, help="members per mixed population at most")
    ap.add_argument("--steps", type=int, default=50, help="timed steps per population and round")
    ap.add_argument("--rounds", type=int, default=3)
    model_arguments(ap)
    ap.set_defaults(width=96, batch=100)
    args = ap.parse_args()
    config = bench_config(args)
    losses = args.losses.split(",")
    members = [
        Member(seed, 2e-4 * (1 + seed % 3), 2e-4, config=dataclasses.replace(config, loss=loss, n_critic=1))
        for k, loss in enumerate(losses)
        for seed in range(k * args.trials, (k + 1) * args.trials)
    ]
    by_loss = [
        Trainer(
            dataclasses.replace(config, loss=loss, n_critic=1),
            [dataclasses.replace(m, config=None) for m in members if m.config.loss == loss],
            device=args.device,
        )
        for loss in losses
    ]
    mixed = [Trainer(config, chunk, device=args.device) for chunk in chunks(members, args.size)]
    for trainers in (by_loss, mixed):
        seconds(trainers, 5, args.device)  # warm-up
    per_loss, together = [], []
    for _ in range(args.rounds):  # alternated, so a slow spell of a shared machine hits both sides
        per_loss.append(len(members) * args.steps / seconds(by_loss, args.steps, args.device))
        together.append(len(members) * args.steps / seconds(mixed, args.steps, args.device))
    ratio = statistics.median(m / p for m, p in zip(together, per_loss))
    print(
        f"{len(members)} members: {len(by_loss)} populations by loss {max(per_loss):8.1f} member-steps/s, "
        f"{len(mixed)} mixed {max(together):8.1f}; mixed/by loss {ratio:.2f}x (median of rounds)"
    )
    payload = {
        "benchmark": "mixed populations",
        "command": " ".join(["python -m benchmarks.bench_mixed"] + sys.argv[1:]),
        "commit": git_commit(),
        "hardware": hardware(),
        "device": args.device,
        "model": f"MLP width {args.width} depth {args.depth}, batch {args.batch}, Adam, 1 D step",
        "members": len(members),
        "populations": {"by_loss": len(by_loss), "mixed": len(mixed)},
        "member_steps_per_s": {"by_loss": [round(x, 1) for x in per_loss], "mixed": [round(x, 1) for x in together]},
        "mixed_over_by_loss": round(ratio, 2),
    }
    kind = args.device.split(":")[0]
    print(f"written {save(f'mixed_{kind}', payload)}")


if __name__ == "__main__":
    main()
