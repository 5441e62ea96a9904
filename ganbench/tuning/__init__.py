"""Equal-budget tuning (Lucic et al. 2018, "Are GANs Created Equal?"): one Optuna study per contender.

Every contender (loss, strategy, dataset) gets the same number of *counted* trials: training runs on the tuning
seed (which no final run uses), as long as the final runs, that search ``lr_g`` and ``lr_d`` log-uniformly
(optionally Adam's beta1 and the D steps: Lucic et al.'s space); the best setting is then trained on every
final seed. Optuna appears here and nowhere else. Trial outcomes:

- COMPLETE: the run finished; its value is the evaluator's primary metric (``w1_raw``, ``fid_domain`` ...) at
  the last evaluation.
- PRUNED: stopped by the pruner (successive halving or the median rule), or *diverged*. A diverged trial is
  told PRUNED, with user attribute ``ganbench.status = diverged`` and a NaN intermediate value at the
  divergence step, so TPE ranks it behind every trial that got as far; it counts toward the budget and is
  reported in its own column.
- FAIL: the job raised (retried; a study gives up after ``trials`` such failures) or the process was killed
  (retried).

Trials are asked ``tuning.batch`` at a time, in a fixed order, and trained as one population (a pruned member
is dropped from the stacked model, so it costs nothing more). Before
each batch the TPE sampler is seeded from ``(sampler_seed, trials so far)``, so the same history always gives
the same next batch, in a fresh process or a resumed one; contenders share that seed, so their random start-up
trials try the same learning rates. A rerun continues the studies: trials left RUNNING by a killed
process are closed from their MLflow run when it finished, else told FAIL with the run marked killed. One
process tunes a suite at a time.
"""

from __future__ import annotations

from ganbench.plan import Hyper, Session, contenders
from ganbench.report.studies import write_tuning_report
from ganbench.train import STOP_REQUESTED, Interrupted
from ganbench.tuning.base import (
    ATTR_RUN,
    ATTR_STATUS,
    BETA1_MAX,
    EVALS_PER_TRIAL,
    TAG_STUDY,
    TAG_TRIAL,
    default_storage_url,
    open_storage,
    study_name,
)
from ganbench.tuning.pruning import HalvingPruner, TrialTracker
from ganbench.tuning.study import ContenderStudy


def tune_suite(runner: Session) -> dict[str, Hyper]:
    """Tune every contender with the same budget; map contender name to its best setting.

    A contender whose study has no completed trial (all diverged, pruned or failed) is left out, so the final
    phase trains it with its default learning rates. Writes the tuning report under ``<out_dir>/report``.
    """
    if runner.suite.tuning is None:
        raise ValueError(f"suite {runner.suite.name!r} has no tuning section")
    storage = open_storage(runner.options.optuna_storage or default_storage_url(runner.out_dir))
    studies = [ContenderStudy(runner, c, storage) for c in contenders(runner.suite)]
    hypers = {}
    with runner.progress.phase("tune", sum(s.remaining() * s.steps for s in studies)):
        if runner.executor is not runner.local_executor:
            _parallel_rounds(runner, studies)  # then each study's run() only finishes it
        for study in studies:
            hyper = study.run()
            if hyper is not None:
                hypers[study.contender.name] = hyper
    write_tuning_report(runner.store, runner.parent, runner.out_dir / "report")
    return hypers


def _parallel_rounds(runner: Session, studies: list[ContenderStudy]) -> None:
    """Under a parallel executor: each round asks one batch of every unfinished study and trains them on the
    executor's workers, several studies at the same time.

    A batch is planned as populations (one per D-steps value), and the pruner compares a trial with every trial
    of its study that reached the rung, earlier populations included. So a round runs in waves: wave k trains
    the k-th population of every study, and a study's next population starts only after its previous one was
    told. Each study then sees what it sees when tuned alone, population after population, and its decisions
    do not depend on which worker finished first."""
    while active := [s for s in studies if s.remaining() > 0]:
        planned = {s: s.plan_batch(min(s.remaining(), s.spec.batch)) for s in active}
        try:
            for wave in range(max(len(jobs) for jobs in planned.values())):
                if STOP_REQUESTED.is_set():
                    raise Interrupted("stopped between tuning rounds")
                jobs = [(s, jobs[wave]) for s, jobs in planned.items() if wave < len(jobs)]
                results = runner.execute([job for _, job in jobs])
                for (study, job), result in zip(jobs, results, strict=True):
                    study.record(job, result)
        except BaseException:
            for s in active:
                s.abandon()
            raise


__all__ = [
    "ATTR_RUN", "ATTR_STATUS", "BETA1_MAX", "EVALS_PER_TRIAL", "TAG_STUDY", "TAG_TRIAL", "ContenderStudy",
    "HalvingPruner", "TrialTracker", "default_storage_url", "open_storage", "study_name", "tune_suite",
]  # fmt: skip
