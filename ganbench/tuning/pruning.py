"""Stopping weak trials early: the synchronous successive-halving rule, and the tracker that reports a trial's
evaluations to its Optuna trial and asks the pruner."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ganbench.tracking import (
    MLflowStore,
    MLflowTracker,
)

if TYPE_CHECKING:
    import optuna


class HalvingPruner:
    """Synchronous successive halving (Jamieson & Talwalkar 2016) for trials trained in lock-step populations.

    Rungs are at ``first``, ``2 first``, ``4 first`` ... before ``last`` (the trials' length). At a rung, a trial
    goes on when its value is among the better half (rounded up) of the values at that step of every trial of
    the study that reached it: earlier populations and the members of its own, which have all reported by the
    time the trainer asks (:meth:`TrialTracker.stops`). Optuna's asynchronous ``SuccessiveHalvingPruner``
    judges each trial the moment it reports, against those that reported before it: in a population the first
    member was always promoted and the later ones had to beat all before them (seen in a run of the bundled
    suite, where 7 of 8 trials of a contender stopped at the first rung). A non-finite value is the worst."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last

    def is_rung(self, step: int) -> bool:
        k, rest = divmod(step, self.first)
        return self.first <= step < self.last and rest == 0 and k & (k - 1) == 0

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or not self.is_rung(step):
            return False
        sign = -1.0 if study.direction.name == "MAXIMIZE" else 1.0

        def loss(value: float) -> float:  # lower is better; NaN and inf are the worst
            return sign * value if math.isfinite(value) else math.inf

        trials = study.get_trials(deepcopy=False)
        reached = sorted(loss(t.intermediate_values[step]) for t in trials if step in t.intermediate_values)
        keep = math.ceil(len(reached) / 2)
        return loss(trial.intermediate_values[step]) > reached[keep - 1]


class TrialTracker(MLflowTracker):
    """Logs like the final phase and reports the primary metric to each member's Optuna trial."""

    def __init__(
        self, store: MLflowStore, run_ids: list[str], dataset: Any, trials: Sequence[Any], metric: str
    ):
        super().__init__(store, run_ids, dataset)
        self.plot_every_eval = False  # a sample figure per trial is enough
        self.trials, self.metric = trials, metric
        self.pruned: set[int] = set()  # members the pruner stopped
        self._reported: dict[int, int] = {}  # member -> the step of its last report

    def on_eval(self, member: int, step: int, metrics: dict[str, float], samples: Any) -> bool:
        if member in self.pruned:  # a Ray worker goes on after a prune; Optuna hears nothing more
            return True
        if self.repeated(member, step):  # a retried job's repeat: Optuna keeps the first report anyway
            return False
        super().on_eval(member, step, metrics, samples)
        if self.metric in metrics:
            self.trials[member].report(metrics[self.metric], step)
            self._reported[member] = step
        return False

    def stops(self, step: int) -> list[int]:
        """The pruner's decisions, asked once every member has reported ``step``: a member is compared with all
        of its population, whatever order they reported in."""
        for member, trial in enumerate(self.trials):
            if member not in self.pruned and self._reported.get(member) == step and trial.should_prune():
                self.pruned.add(member)
        return sorted(self.pruned)
