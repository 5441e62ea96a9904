import sys, time, torch
from ganbench.config import RunConfig, ModelConfig, Member
from ganbench.train import Trainer
torch.set_num_threads(int(sys.argv[1])); loss=sys.argv[2]; nc=int(sys.argv[3]) if len(sys.argv)>3 else 1
cfg = RunConfig(loss, "adam_dcgan", "ring8", ModelConfig(width=96, depth=2), steps=1500, batch_size=100, eval_every=1500, beta1=0.5, n_critic=nc)
tr = Trainer(cfg, [Member(s, 2e-3, 2e-3) for s in range(10)])
for _ in range(50): tr.train_step()
t=time.time()
for _ in range(1000): tr.train_step()
dt=time.time()-t; print(f"threads={sys.argv[1]} {loss} nc={nc}: {10*1000/dt:.0f} model-steps/s", flush=True)
