"""Equal-budget tuning (Lucic et al. 2018, "Are GANs Created Equal?"): one Optuna study per contender and
replicate.

Every contender (loss, strategy, dataset) gets the same budget in every replicate: ``trials`` counted trials, or
``compute`` GFLOP of training. A trial trains on the replicate's tuning seeds (which no final run uses), as long
as the final runs, and is scored by the mean of their values of the objective; it searches ``lr_g`` and ``lr_d``
log-uniformly, optionally Adam's beta1 and the D steps (Lucic et al.'s space) and the loss's own searchable
parameters. The best setting of each replicate is then trained on that replicate's final seeds. Optuna appears
here and nowhere else. Trial outcomes:

- COMPLETE: every seed finished; its value is the mean of their objective (``w1_raw``, ``fid_domain`` ...) at
  the last evaluation.
- PRUNED: stopped by the pruner (successive halving or the median rule), or *diverged* (any of its seeds). A
  diverged trial is told PRUNED, with user attribute ``ganbench.status = diverged`` and a NaN intermediate
  value, so TPE ranks it behind every trial that got as far; it counts toward the budget and is reported in its
  own column.
- FAIL: the job raised (retried with a new trial; a study gives up after ``trials`` such failures), or the
  process was stopped or killed: then the same parameters are asked again first, so an interrupted study ends
  as an uninterrupted one would.

A round asks one batch (``tuning.batch`` trials) of every unfinished study; the sampler sees every earlier
batch's outcome (a Latin hypercube for the first batch, TPE after). The round's trials train as populations packed
across the replicates of a contender (one population per D-steps value), in waves: wave k holds the k-th
population of every study, so each study sees its populations in the same order whatever executor runs them,
and its decisions do not depend on which worker finished first. Before each batch the sampler is seeded from
``(sampler_seed, replicate, counted trials so far)``. A rerun continues the studies. One process tunes a suite
at a time.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

from ganbench.plan import Hyper, Planned, Session, chunks, contenders
from ganbench.signals import closing_records
from ganbench.train import STOP_REQUESTED, Interrupted
from ganbench.tuning.base import (
    ATTR_COMPUTE,
    ATTR_STATUS,
    BETA1_MAX,
    EVALS_PER_TRIAL,
    TAG_STUDY,
    TAG_TRIAL,
    Asked,
    default_storage_url,
    open_storage,
    study_name,
)
from ganbench.tuning.pruning import HalvingPruner, TrialTracker
from ganbench.tuning.study import ContenderStudy


def tune_suite(session: Session) -> dict[tuple[str, int], Hyper]:
    """Tune every contender in every replicate with the same budget; map (contender name, replicate) to the
    best setting.

    A study with no completed trial (all diverged, pruned or failed) is left out, so the final phase trains that
    replicate with the default learning rates. The tuning report is the caller's (the runner writes it for
    ``ganbench tune``; a full run's report holds it).
    """
    if session.suite.tuning is None:
        raise ValueError(f"suite {session.suite.name!r} has no tuning section")
    storage = open_storage(session.options.optuna_storage or default_storage_url(session.out_dir))
    studies = [
        ContenderStudy(session, c, r, storage)
        for r in range(session.suite.replicates)
        for c in contenders(session.suite)
    ]
    steps = sum(s.steps * len(s.seeds) * s.todo() for s in studies)
    with session.progress.phase("tune", steps):
        try:
            while active := [s for s in studies if s.remaining() > 0]:
                if STOP_REQUESTED.is_set():
                    raise Interrupted("stopped between tuning rounds")
                run_round(session, [a for s in active for a in s.ask()])
        except BaseException:
            with closing_records():
                for s in studies:  # best effort: the store may be what failed, and its error is the one to show
                    with contextlib.suppress(Exception):
                        s.abandon()
            raise
    hypers = {}
    for study in studies:
        hyper = study.finish()
        if hyper is not None:
            hypers[(study.contender.name, study.replicate)] = hyper
    return hypers


def run_round(session: Session, asked: list[Asked]) -> None:
    """Train one round's trials, packed into populations, wave after wave, and tell each study how they ended."""
    for wave in pack(session, asked):
        if STOP_REQUESTED.is_set():
            raise Interrupted("stopped between tuning waves")
        results = session.execute([planned for planned, _ in wave])
        for (planned, trials), result in zip(wave, results, strict=True):
            pruned = planned.tracker.pruned_trials  # type: ignore[union-attr]
            for t, a in enumerate(trials):
                mine = [r for r, owner in zip(result, planned.tracker.owner) if owner == t]  # type: ignore[union-attr]
                a.study.tell(a, mine, pruned=t in pruned)


def pack(session: Session, asked: list[Asked]) -> list[list[tuple[Planned, list[Asked]]]]:
    """The round's populations, grouped in waves.

    Trials of one contender with the same D steps share a run config, whichever replicate's study asked them, so
    they train as one population (``population_size`` members at most; a trial's seeds stay together). A
    study's populations in a round are ordered by D steps, then chunk; wave k holds the populations of that k-th
    (D steps, chunk) place."""
    groups: dict[tuple[str, int | None], list[Asked]] = defaultdict(list)
    for a in asked:
        groups[(a.study.contender.name, a.n_critic)].append(a)
    waves: dict[tuple[int, int], list[tuple[Planned, list[Asked]]]] = defaultdict(list)
    size = session.options.population_size
    for (_, n_critic), group in groups.items():
        per_chunk = max(1, size // len(group[0].members))  # trials per population
        for k, chunk in enumerate(chunks(group, per_chunk)):
            waves[(n_critic or 0, k)].append((_planned(chunk), chunk))
    return [waves[key] for key in sorted(waves)]


def _planned(chunk: list[Asked]) -> Planned:
    members = [m for a in chunk for m in a.members]
    owner = [t for t, a in enumerate(chunk) for _ in a.members]
    tracker = TrialTracker([a.trial for a in chunk], owner, chunk[0].study.metric)
    return Planned(
        chunk[0].config,
        members,
        chunk[0].study.contender,
        tags=[tag for a in chunk for tag in a.study.tags(a)],
        parents=[a.study.run_id for a in chunk for _ in a.members],
        tracker=tracker,
    )


__all__ = [
    "ATTR_COMPUTE",
    "ATTR_STATUS",
    "BETA1_MAX",
    "EVALS_PER_TRIAL",
    "TAG_STUDY",
    "TAG_TRIAL",
    "Asked",
    "ContenderStudy",
    "HalvingPruner",
    "TrialTracker",
    "default_storage_url",
    "open_storage",
    "pack",
    "run_round",
    "study_name",
    "tune_suite",
]
