"""The final phase: train every contender on every replicate's seeds with its tuned (or default) setting,
skipping what the store already holds; and, before any phase, what real data scores (the report's ceiling and
the metrics' noise). Like :mod:`ganbench.tuning`, it works on a :class:`ganbench.plan.Session`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ganbench.config import Member, RunConfig
from ganbench.plan import Hyper, Planned, Session, chunks, contenders, default_hyper, run_config
from ganbench.population import CorruptCheckpoint, checkpoint_step, set_aside
from ganbench.tracking import REAL_PREFIX, TAG_REPLICATE, real_key
from ganbench.train import STOP_REQUESTED, Interrupted


def final_phase(session: Session, hypers: dict[tuple[str, int], Hyper] | None = None) -> None:
    """Train every contender on every replicate's seeds, skipping runs the store already holds.

    A replicate trains its own tuned setting (``hypers[(contender, replicate)]``, else the default rates) on
    its own seeds; the replicates of a contender that share a run config (the same D steps) train as one
    population, each member still its own run."""
    done = session.store.done_keys(session.parent)
    jobs = []
    for contender in contenders(session.suite):
        by_config: dict[str, tuple[RunConfig, list[tuple[Member, dict[str, str]]]]] = {}
        for r in range(session.suite.replicates):
            hyper = (hypers or {}).get((contender.name, r)) or default_hyper(session.suite, contender)
            config = run_config(session.suite, contender, hyper)
            for seed in session.suite.seeds_of(r):
                member = hyper.member(seed)
                if member.key(config) not in done:
                    entry = by_config.setdefault(repr(config), (config, []))
                    entry[1].append((member, {TAG_REPLICATE: str(r)}))
        for config, todo in by_config.values():
            for group in _resume_groups(session, config, todo):
                jobs.extend((config, chunk, contender) for chunk in chunks(group, session.options.population_size))
    total = sum(len(m) * (c.steps - resume_step(session, c, m[0][0])) for c, m, _ in jobs)
    with session.progress.phase("final", total):
        if STOP_REQUESTED.is_set():
            raise Interrupted("stopped before the final phase")
        session.execute(
            [
                Planned(config, [m for m, _ in chunk], contender, tags=[t for _, t in chunk])
                for config, chunk, contender in jobs
            ]
        )


def resume_step(session: Session, config: RunConfig, member: Member) -> int:
    """The step a run resumes from. A checkpoint that cannot be read is set aside (one warning line) and
    its run trains from the start: a bad file never blocks a suite."""
    path = session.checkpoint_path(member.key(config))
    try:
        return checkpoint_step(path)
    except CorruptCheckpoint as exc:
        aside = set_aside(path)
        session.progress.warn(
            f"checkpoint {path} cannot be read ({exc}); renamed to {aside.name}, and its run trains from its start"
        )
        return 0


def _resume_groups(
    session: Session, config: RunConfig, members: list[tuple[Member, Any]]
) -> list[list[tuple[Member, Any]]]:
    """Members (with their tags) that resume from the same step train together."""
    groups: dict[int, list[tuple[Member, Any]]] = defaultdict(list)
    for m in members:
        groups[resume_step(session, config, m[0])].append(m)
    return [groups[s] for s in sorted(groups)]


def log_real_scores(session: Session) -> None:
    """What real data scores on each dataset's metrics (the ceiling, and each metric's evaluation noise,
    from which the report derives its region of practical equivalence), logged once on the suite run as
    ``real.<dataset>.<metric>``, one step per real draw."""
    logged = {
        k.removeprefix(REAL_PREFIX).rsplit(".", 1)[0]
        for k in session.store.client.get_run(session.parent).data.metrics
        if k.startswith(REAL_PREFIX)
    }
    for contender in contenders(session.suite):
        if contender.dataset in logged:
            continue
        logged.add(contender.dataset)
        scores = session.evaluator(run_config(session.suite, contender)).real_scores()
        for step in range(len(next(iter(scores.values()), []))):
            session.store.log(
                session.parent, metrics={real_key(contender.dataset, m): v[step] for m, v in scores.items()}, step=step
            )
