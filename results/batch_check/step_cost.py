import sys, time, torch
from ganbench.config import RunConfig, ModelConfig, Member
from ganbench.train import Trainer
torch.set_num_threads(1)
def run(loss, nc, pop, w, b, n):
    cfg = RunConfig(loss, "adam_dcgan", "ring8", ModelConfig(width=w, depth=2), steps=1500, batch_size=b, eval_every=1500, beta1=0.5, n_critic=nc)
    tr = Trainer(cfg, [Member(s, 2e-3, 2e-3) for s in range(pop)])
    for _ in range(20): tr.train_step()
    best=1e9
    for rep in range(3):
        t=time.time()
        for _ in range(n): tr.train_step()
        best=min(best,(time.time()-t)/n*1e3)
    return best
for loss, nc, n in [("hinge",1,200),("hinge",5,80),("r1",5,50),("wgan_gp",5,50)]:
    for b in (64,100):
        print(f"{loss} nc={nc} w=96 b={b}: {run(loss,nc,10,96,b,n):.2f} ms/step (pop 10, best of 3)", flush=True)
