"""Wasserstein-1 (earth mover's) distance between point sets, by POT's exact solver (never re-implemented).

Why this is the 2-D mixtures' primary metric (``w1_raw``, the tuning objective; README, Metrics): it must
see both coverage and sharpness. FID in raw data space (``fid_raw``) compares only means and covariances, so a
uniform spread with grid25's mean and covariance scores about like real data. W1 is the least mean distance
the generated mass must travel to become the real mass (Villani 2009; the WGAN critic's distance, Arjovsky et
al. 2017): a missed mode costs its mass times the distance to the nearest covered one, a blurred or shifted
mode costs how far its samples lie from the mode, and W1 = 0 only for identical distributions.

It is computed exactly: ``ot.emd2`` (network simplex, Bonneel et al. 2011) on the Euclidean cost matrix
``ot.dist(..., metric="euclidean")`` between the two empirical measures with uniform weights.

Cost and sampling noise (shared 2-core CPU, POT 0.9.7): exact W1 takes 0.7-1.5 s for 2,500 vs 2,500
points, 0.12-0.18 s for 1,000 vs 1,000 and ~0.02 s for 500 vs 500, and it runs at every evaluation of every
run, so the evaluator compares the first :data:`W1_SAMPLES` generated samples (drawn from fixed noise: a
fixed i.i.d. subsample) with a fixed reference of as many real points, equally many from every mode
(:func:`balanced_reference`; the mixtures' modes have equal weights, so a balanced reference is closer to
the real distribution than an i.i.d. draw, whose mode counts alone put grid25's real-vs-real W1 at ~0.28
instead of ~0.19). What remains is the generated side's own noise: 1,000 real samples score ring8
0.04 ± 0.012 and grid25 0.19 ± 0.02 (mean ± std over 5 draws) against the reference; half real, half uniform
scores 0.19 and 0.39, and a uniform spread with the data's mean and covariance 0.37 and 0.73. Values are
comparable only at equal sample sizes, which ``protocol()`` logs.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

W1_SAMPLES = 1000  # generated and reference points per W1 evaluation (the cost above)
# network simplex iterations: a margin over POT's default (1e5), at which a stopped solver (it warns) would
# return a transport cost above the optimum
NUM_ITER_MAX = 10_000_000


def wasserstein1(samples: Tensor, reference: Tensor) -> float:
    """Exact W1 between the empirical measures of ``[n, d]`` ``samples`` and ``[m, d]`` ``reference`` (uniform
    weights, Euclidean ground distance); ``inf`` when a sample is not finite (a diverged generator) or a
    distance overflows."""
    # imported late: it imports scikit-learn (~1.5 s), paid only by processes that evaluate 2-D data
    import ot

    x = samples.detach().to("cpu", torch.float64).numpy()
    y = reference.detach().to("cpu", torch.float64).numpy()
    if not np.isfinite(x).all():
        return math.inf
    cost = ot.dist(x, y, metric="euclidean")
    if not np.isfinite(cost).all():
        return math.inf
    a = np.full(x.shape[0], 1.0 / x.shape[0])
    b = np.full(y.shape[0], 1.0 / y.shape[0])
    return float(ot.emd2(a, b, cost, numItermax=NUM_ITER_MAX))


def balanced_reference(pool: Tensor, means: Tensor, per_mode: int) -> Tensor:
    """``per_mode`` points of each mode (the first ones of ``pool`` whose nearest mean it is), in mode order,
    ``[modes * per_mode, d]``: a real sample with exactly the mixture's equal mode weights."""
    nearest = torch.cdist(pool.to(torch.float64), means.to(torch.float64)).argmin(dim=1)
    parts = []
    for mode in range(means.shape[0]):
        members = pool[nearest == mode]
        if members.shape[0] < per_mode:
            raise ValueError(f"mode {mode}: {members.shape[0]} of {pool.shape[0]} pool points, {per_mode} needed")
        parts.append(members[:per_mode])
    return torch.cat(parts)
