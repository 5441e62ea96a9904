"""How often does each way of putting an interval on a contender's mean cover the true mean, and how often does
each pairwise test call two equal contenders different, when the data have the structure ganbench's runs have:
replicates (each with its own tuning luck, shared by its seeds) x seeds (noise around the replicate's value)?

Compared, for R = 3, 5 and 10 replicates of S = 4 seeds, with the tuning spread 2x the seed spread (the twin
experiment of the tuning-variance issue saw a re-tune move a loss from 65 % to 13 % HQ, while seeds of one setting
spread by a few points):
- ``t, replicate``: the t interval of the replicate means (what ganbench uses);
- ``hier. bootstrap``: percentile interval of a hierarchical bootstrap, replicates then seeds within them;
- ``t, seeds pooled``: the t interval over all R x S runs, as if the seeds were independent (what a test over
  (dataset, seed) blocks that share one tuning outcome assumes).
And for the pairwise decision between two equal contenders (ROPE 0): the share of studies in which they are
declared different at 0.95 by the t posterior over replicates (ganbench), by baycomp's Bayesian signed-rank test
over replicate means, and by the t posterior over pooled seeds.

Run from the project root: ``python results/statistics_check/coverage.py`` (about a minute).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ganbench.report import inference as I

TUNING_SD, SEED_SD, SEEDS, STUDIES = 2.0, 1.0, 4, 2000


def draw(rng: np.random.Generator, replicates: int) -> np.ndarray:
    return rng.normal(0, TUNING_SD, (replicates, 1)) + rng.normal(0, SEED_SD, (replicates, SEEDS))


def t_interval(x: np.ndarray) -> tuple[float, float]:
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return x.mean() - half, x.mean() + half


def hierarchical_bootstrap(values: np.ndarray, rng: np.random.Generator, resamples: int = 1000) -> tuple[float, float]:
    r, s = values.shape
    reps = rng.integers(r, size=(resamples, r))
    seeds = rng.integers(s, size=(resamples, r, s))
    means = values[reps[:, :, None], seeds].mean(axis=(1, 2))
    return tuple(np.percentile(means, [2.5, 97.5]))


def main() -> None:
    from baycomp import SignedRankTest

    rng = np.random.default_rng(0)
    print(f"tuning sd {TUNING_SD}, seed sd {SEED_SD}, {SEEDS} seeds per replicate, {STUDIES} simulated studies each")
    print(f"{'replicates':>10} | {'95% interval covers the true mean':^54} | {'two equal contenders declared different':^48}")
    print(f"{'':>10} | {'t, replicate':>16} {'hier. bootstrap':>17} {'t, seeds pooled':>17} | "
          f"{'t, replicate':>14} {'signed-rank, rep.':>17} {'t, seeds':>13}")
    for r in (3, 5, 10):
        cover = np.zeros(3)
        different = np.zeros(3)
        for k in range(STUDIES):
            a, b = draw(rng, r), draw(rng, r)
            for j, (low, high) in enumerate([t_interval(a.mean(axis=1)), hierarchical_bootstrap(a, rng),
                                              t_interval(a.ravel())]):
                cover[j] += low <= 0 <= high
            pair = I.compare(a, b, rope=0.0)
            different[0] += pair.decision in (I.WORSE, I.BETTER)
            if k < 400:  # baycomp's sampler is slow: 400 studies
                left, right = SignedRankTest.probs(b.mean(axis=1), a.mean(axis=1), rope=0, nsamples=2000,
                                                   random_state=k)
                different[1] += max(left, right) >= 0.95
            pooled = I.compare(a.reshape(1, -1), b.reshape(1, -1), rope=0.0)
            different[2] += pooled.decision in (I.WORSE, I.BETTER)
        cover /= STUDIES
        different[[0, 2]] /= STUDIES
        different[1] /= 400
        print(f"{r:>10} | {cover[0]:>16.1%} {cover[1]:>17.1%} {cover[2]:>17.1%} | "
              f"{different[0]:>14.1%} {different[1]:>17.1%} {different[2]:>13.1%}")


if __name__ == "__main__":
    main()
