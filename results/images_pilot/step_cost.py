"""Seconds per generator step of a Trainer population on stacked digits at 8x8 (or digits), one torch thread.
Prints wall time and this process's CPU time: on a shared machine the CPU time is what a step costs a core.

usage: step_cost.py MODEL WIDTH DEPTH LATENT BATCH POP N_CRITIC LOSS [DATASET] [STEPS]
"""

import sys
import time

import torch

from ganbench.config import Member, ModelConfig, RunConfig
from ganbench.data import DataOptions, load_dataset
from ganbench.train import Trainer


class _NoEval:
    primary = "fid_domain"

    def __init__(self, dataset):
        self.dataset = dataset


def main() -> None:
    model, width, depth, latent, batch, pop, nc, loss = sys.argv[1:9]
    dataset = sys.argv[9] if len(sys.argv) > 9 else "stacked_digits"
    steps = int(sys.argv[10]) if len(sys.argv) > 10 else 200
    torch.set_num_threads(1)
    cfg = RunConfig(loss, "adam_dcgan", dataset, ModelConfig(model, int(width), int(depth), int(latent)),
                    steps=10**6, batch_size=int(batch), eval_every=10**6, n_critic=int(nc), image_size=8)
    ds = load_dataset(dataset, DataOptions(image_size=8))
    tr = Trainer(cfg, [Member(s, 2e-4, 2e-4) for s in range(int(pop))], evaluator=_NoEval(ds))
    for _ in range(20):
        tr.train_step()
    t, c = time.perf_counter(), time.process_time()
    for _ in range(steps):
        tr.train_step()
    dt = (time.perf_counter() - t) / steps
    cpu = (time.process_time() - c) / steps
    print(f"{model} w={width} d={depth} z={latent} batch={batch} pop={pop} nc={nc} {loss} {dataset}: "
          f"wall {dt * 1e3:.1f} ms/step = {dt * 1000 / int(pop):.2f} s per 1,000 steps per member; "
          f"CPU {cpu * 1e3:.1f} ms/step = {cpu * 1000 / int(pop):.2f} s", flush=True)


if __name__ == "__main__":
    main()
