"""Projected wall time of the images_cpu suite on the 2-core CPU, from the measured costs in this folder.

usage: cost_model.py [--steps 2000] [--trials 8] [--seeds 10] [--replicates 1] [--calibration 1.25]

Costs are CPU seconds (one core) measured with step_cost.py / eval_cost.py on the shared machine (RUN.md):
per 1,000 generator steps per member of a population of 10 (4 costs the same per member), stacked digits;
digits costs 0.60 of it (measured for non-saturating, 1 D step). ``--calibration`` scales the model's total to
what a real run costs: 1.68 was measured on the slice run under a load average of 6-10 (other engineers'
jobs on the same 2 cores); 1.25 is what the idle 06:01 step measurement suggests for an idle machine.
"""

import argparse

STEP = {("plain", 1): 1.75, ("plain", 5): 4.9, ("gp", 1): 2.4, ("gp", 5): 9.7}  # CPU s / 1k steps / member
DIGITS = 0.60  # digits' step cost relative to stacked digits'
EVAL = {"stacked_digits": 0.9, "digits": 0.45}  # CPU s per evaluation of 10,000 samples
LOSSES = {"plain": 7, "gp": 3}  # minimax, non_saturating, lsgan, wgan, hinge, feature_matching, relativistic;
#                                 wgan_gp, dragan, r1
EVALS_PER_RUN = 4  # eval_every = steps / 4
# successive halving at 25 % then 50 % (8 trials): the losses suite completed 50 of 160 trials; a study of 8
# then trains ~2.5 full trials and ~5.5 stopped at ~35 % on average, and evaluates ~2.5 x 4 + 5.5 x 1.4 times
HORIZONS_PER_8_TRIALS, EVALS_PER_8_TRIALS = 4.4, 17.7
OVERHEAD_S = 120  # start-up of 3 processes, MLflow records, the report (wall seconds, not scaled)


def project(steps: int, trials: int, seeds: int, replicates: int, share_nc5: float) -> dict[str, float]:
    k = steps / 1000
    cost = {"final_train": 0.0, "final_eval": 0.0, "tune_train": 0.0, "tune_eval": 0.0, "real_rows": 0.0}
    for dataset, scale in (("stacked_digits", 1.0), ("digits", DIGITS)):
        for kind, n in LOSSES.items():
            final_step = (1 - share_nc5) * STEP[(kind, 1)] + share_nc5 * STEP[(kind, 5)]
            tune_step = 0.5 * (STEP[(kind, 1)] + STEP[(kind, 5)])  # n_critic in {1, 5}, searched
            cost["final_train"] += n * seeds * k * final_step * scale
            cost["final_eval"] += n * seeds * EVALS_PER_RUN * EVAL[dataset]
            horizons = HORIZONS_PER_8_TRIALS * trials / 8 * replicates
            cost["tune_train"] += n * horizons * k * tune_step * scale
            cost["tune_eval"] += n * EVALS_PER_8_TRIALS * trials / 8 * replicates * EVAL[dataset]
        cost["real_rows"] += 10 * EVAL[dataset]
    return cost


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--replicates", type=int, default=1, help="times the whole tuning is repeated")
    p.add_argument("--calibration", type=float, default=1.25)
    a = p.parse_args()
    print(f"steps {a.steps}, trials {a.trials}, seeds {a.seeds}, tuning replicates {a.replicates}, "
          f"calibration {a.calibration}")
    for label, share in (("final runs all 1 D step", 0.0), ("half 5 D steps", 0.5), ("all 5 D steps", 1.0)):
        c = project(a.steps, a.trials, a.seeds, a.replicates, share)
        total = sum(c.values())
        wall = total * a.calibration / 2 + OVERHEAD_S
        parts = ", ".join(f"{k} {v / 60:.1f}" for k, v in c.items())
        print(f"  {label:24s}: {total / 60:5.1f} CPU-min ({parts}) -> {wall / 60:5.1f} min on 2 cores")


if __name__ == "__main__":
    main()
