import sys, time, torch, json
from ganbench.config import RunConfig, ModelConfig, Member
from ganbench.train import Trainer
torch.set_num_threads(1)
out = {}
for loss in ["minimax","non_saturating","lsgan","wgan","wgan_gp","hinge","feature_matching","dragan","relativistic","r1"]:
    for nc in (1, 5):
        cfg = RunConfig(loss, "adam_dcgan", "grid25", ModelConfig(width=96, depth=2), steps=1500, batch_size=100, eval_every=1500, beta1=0.5, n_critic=nc)
        tr = Trainer(cfg, [Member(s, 2e-4, 2e-4) for s in range(4)])
        for _ in range(20): tr.train_step()
        n = 150; t = time.time()
        for _ in range(n): tr.train_step()
        ms = (time.time() - t) / n / 4 * 1e3
        out[f"{loss}/{nc}"] = round(ms, 3); print(loss, nc, f"{ms:.2f} ms/member-step", flush=True)
print(json.dumps(out))
