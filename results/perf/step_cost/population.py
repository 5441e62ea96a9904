import sys, time, torch
from ganbench.config import RunConfig, ModelConfig, Member
from ganbench.train import Trainer
torch.set_num_threads(int(sys.argv[1])); loss=sys.argv[2]; nc=int(sys.argv[3]); pop=int(sys.argv[4])
cfg = RunConfig(loss, "adam_dcgan", "ring8", ModelConfig(width=96, depth=2), steps=1500, batch_size=100, eval_every=1500, beta1=0.5, n_critic=nc)
tr = Trainer(cfg, [Member(s, 2e-3, 2e-3) for s in range(pop)])
for _ in range(30): tr.train_step()
n=300
t=time.time()
for _ in range(n): tr.train_step()
dt=time.time()-t; print(f"threads={sys.argv[1]} {loss} nc={nc} pop={pop}: {pop*n/dt:.0f} model-steps/s, {dt/n*1e3:.2f} ms/step", flush=True)
