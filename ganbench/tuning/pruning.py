"""Stopping weak trials early: the synchronous successive-halving rule, and the tracker that reports each trial's
evaluations (the mean over its tuning seeds) to its Optuna trial and asks the pruner."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optuna

from ganbench.recording import MLflowTracker
from ganbench.tracking import MLflowStore


class HalvingPruner(optuna.pruners.BasePruner):
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

    def rungs(self) -> list[int]:
        out, step = [], self.first
        while step < self.last:
            out.append(step)
            step *= 2
        return out

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
    """Logs like the final phase and reports to each trial's Optuna trial the mean of its members' values (one
    member per tuning seed). Members of one population may belong to several trials and studies (a contender's
    replicates train together); each trial is judged in its own study.

    Made by the tuning phase with the trials it asked; the runner attaches the MLflow runs it opened for the
    members (:meth:`attach`) before the population trains, and the phase reads :attr:`pruned` afterwards."""

    def __init__(self, trials: Sequence[Any], owner: Sequence[int], metric: str) -> None:
        self.trials, self.owner, self.metric = list(trials), list(owner), metric  # owner[m]: member m's trial
        self.pruned_trials: set[int] = set()  # trials (indices into ``trials``) the pruner stopped
        self.values: dict[tuple[int, int], float] = {}  # (member, step) -> its value of the metric
        self._told: set[tuple[int, int]] = set()  # (trial, step) reported to Optuna

    def attach(self, store: MLflowStore, run_ids: list[str], dataset: Any) -> TrialTracker:
        super().__init__(store, run_ids, dataset)
        self.plot_every_eval = False  # a sample figure per trial is enough
        return self

    def part(self, keep: Sequence[int]) -> TrialTracker:
        """A tracker for the members ``keep`` only (a population split after running out of GPU memory): it
        shares the trials, their prune decisions and what was told, so the phase reads one outcome. A trial
        whose seeds fall in different parts is judged on the seeds of the part that reports first."""
        part = TrialTracker(self.trials, [self.owner[k] for k in keep], self.metric)
        part.pruned_trials, part._told = self.pruned_trials, self._told
        return part

    @property
    def pruned(self) -> set[int]:
        """Members the pruner stopped."""
        return {m for m, t in enumerate(self.owner) if t in self.pruned_trials}

    def on_eval(self, member: int, step: int, metrics: dict[str, float], samples: Any) -> bool:
        if self.owner[member] in self.pruned_trials:  # a Ray worker goes on after a prune; Optuna hears no more
            return True
        if self.repeated(member, step):  # a retried job's repeat: Optuna keeps the first report anyway
            return False
        super().on_eval(member, step, metrics, samples)
        if self.metric in metrics:
            self.values[(member, step)] = metrics[self.metric]
        return False

    def stops(self, step: int) -> list[int]:
        """Asked once every member has reported ``step``: each trial whose members reported gets their mean (NaN
        when one of them stopped without a value: it diverged), and the pruner's decision. A trial judged on a
        NaN stops at once, whatever the step: its value can no longer be a number."""
        told = []
        for t, trial in enumerate(self.trials):
            members = [m for m, owner in enumerate(self.owner) if owner == t]
            if t in self.pruned_trials or (t, step) in self._told:
                continue
            values = [self.values.get((m, step)) for m in members]
            if all(v is None for v in values):
                continue  # the trial no longer trains (it ended earlier)
            mean = math.nan if None in values else sum(values) / len(values)  # type: ignore[arg-type]
            trial.report(mean, step)
            self._told.add((t, step))
            told.append((t, trial, mean))
        # decided only once every trial of the population has reported: asked in the same loop, the first trial
        # of a study would be judged against itself alone and always go on
        for t, trial, mean in told:
            if math.isnan(mean) or trial.should_prune():
                self.pruned_trials.add(t)
        return sorted(self.pruned)
