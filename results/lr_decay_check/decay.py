import sys, time, torch
from ganbench.config import RunConfig, ModelConfig, Member
from ganbench.train import Trainer
torch.set_num_threads(2)
variant, losses, datasets = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
lr = float(sys.argv[4]) if len(sys.argv) > 4 else 2e-3
steps = int(sys.argv[5]) if len(sys.argv) > 5 else 8000
orig = Trainer.train_step
def train_step(self):
    if variant.startswith("decay"):
        start = float(variant[5:] or 0.5)
        s = self.step
        if s >= start * steps and s % 50 == 0:
            f = max(0.0, 1 - (s - start * steps) / ((1 - start) * steps))
            for opt, base in ((self.opt_g, self._base_g), (self.opt_d, self._base_d)):
                opt.lr.copy_(base * f); opt._forget_groups()
    orig(self)
Trainer.train_step = train_step
for ds in datasets:
    for loss in losses:
        cfg = RunConfig(loss, "adam_dcgan+ema" if variant == "ema" else "adam_dcgan", ds, ModelConfig(width=96, depth=2), steps=steps,
                        batch_size=100, eval_every=steps // 4, beta1=0.5, n_critic=1)
        t = time.time()
        tr = Trainer(cfg, [Member(s, lr, lr) for s in range(4)])
        tr._base_g, tr._base_d = tr.opt_g.lr.clone(), tr.opt_d.lr.clone()
        res = tr.run()
        m = lambda k: sum(r.metrics[k] for r in res) / len(res)
        print(f"{variant:8s} lr={lr:g} {ds:7s} {loss:15s} modes={m('modes_covered'):5.2f} hq={m('high_quality_pct'):5.1f} w1={m('w1_raw'):.3f} "
              f"hq_each={[round(r.metrics['high_quality_pct']) for r in res]} {time.time()-t:.0f}s", flush=True)
