"""Does a GAN learn stacked digits / digits at 8x8 within a CPU budget? Trains one population (one member per
learning rate) with the ganbench Trainer and the image evaluator at 10,000 samples, prints every evaluation,
and writes each member's final samples as a grid (8x8 images upscaled 4x, nearest).

usage: pilot.py OUT DATASET MODEL WIDTH DEPTH LATENT BATCH STEPS EVAL_EVERY LOSS N_CRITIC BETA1 LR[,LR...]
"""

import sys
import time
from pathlib import Path

import torch
from torchvision.utils import save_image

from ganbench.config import Member, ModelConfig, RunConfig
from ganbench.data import DataOptions, load_dataset
from ganbench.metrics.evaluate import create_evaluator
from ganbench.train import Tracker, Trainer

SHOW = ("fid_domain", "modes_covered", "kl_uniform", "precision_domain", "recall_domain")


class Printer(Tracker):
    def __init__(self, lrs, t0):
        self.lrs, self.t0 = lrs, t0

    def on_eval(self, member, step, metrics, samples):
        vals = " ".join(f"{k}={metrics[k]:.3f}" for k in SHOW if k in metrics)
        print(f"[{time.perf_counter() - self.t0:6.0f}s] step {step} lr={self.lrs[member]:g}: {vals}", flush=True)
        return False


def main() -> None:
    out, dataset, model, width, depth, latent, batch, steps, every, loss, nc, beta1, lrs = sys.argv[1:14]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    lrs = [float(x) for x in lrs.split(",")]
    cfg = RunConfig(loss, "adam_dcgan", dataset, ModelConfig(model, int(width), int(depth), int(latent)),
                    steps=int(steps), batch_size=int(batch), eval_every=int(every), eval_samples=10_000,
                    n_critic=int(nc), beta1=float(beta1), image_size=8, lr_decay_from=0.5)
    ds = load_dataset(dataset, DataOptions(image_size=8))
    ev = create_evaluator(ds, eval_samples=10_000)
    t0 = time.perf_counter()
    tr = Trainer(cfg, [Member(0, lr, lr) for lr in lrs], evaluator=ev, tracker=Printer(lrs, t0))
    tr.run()
    print(f"trained in {time.perf_counter() - t0:.0f} s", flush=True)
    samples = tr.generate(64)
    tag = f"{dataset}_{model}{width}x{depth}_{loss}_nc{nc}_b{beta1}_s{steps}"

    def grid(images, path):  # [64, C, 8, 8] in [-1, 1]; stacked digits also as their first channel alone
        big = torch.nn.functional.interpolate((images + 1) / 2, scale_factor=4, mode="nearest")
        save_image(big, path, nrow=8, padding=2)
        if images.shape[1] == 3:
            save_image(big[:, :1], str(path).replace(".png", "_channel0.png"), nrow=8, padding=2)

    for r, i in enumerate(tr.rows):
        grid(samples[r], out / f"{tag}_lr{lrs[i]:g}.png")
    real = out / f"{dataset}_real.png"
    if not real.exists():
        grid(ds.reference(64, 0), real)


if __name__ == "__main__":
    main()
