"""One contender's Optuna study in one replicate: ask a batch of trials, tell how they ended, recover what a
killed process left, and sum the study up for the report."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any

import optuna
from optuna.trial import TrialState

from ganbench import metrics as M
from ganbench.config import Member, RunConfig
from ganbench.losses import get_loss
from ganbench.plan import Contender, Hyper, Session, run_config
from ganbench.status import Status
from ganbench.strategies import describe_search, get_strategy, search_space, space_text, tied_rates
from ganbench.tracking import TAG_CONTENDER, TAG_KEY, TAG_PHASE, TAG_REPLICATE
from ganbench.train import RunResult
from ganbench.tuning.base import (
    ATTR_COMPUTE,
    ATTR_STATUS,
    EVALS_PER_TRIAL,
    STRATEGY_PARAMS,
    TAG_STUDY,
    TAG_TRIAL,
    Asked,
    _has_result,
    study_name,
)
from ganbench.tuning.design import first_batch
from ganbench.tuning.pruning import HalvingPruner
from ganbench.tuning.records import COUNTS, TRIALS_ARTIFACT, budget_curve, result_of, trial_records


class ContenderStudy:
    """One (contender, replicate)'s study, its MLflow study run (phase ``study``, child of the suite run) and the
    MLflow runs of its trials (children of the study run, one per trial and tuning seed)."""

    def __init__(self, session: Session, contender: Contender, replicate: int, storage: Any) -> None:
        self.session, self.contender, self.replicate = session, contender, replicate
        self.spec = session.suite.tuning
        self.steps = self.spec.steps or session.suite.steps
        self.seeds = self.spec.seeds_of(replicate)
        self.name = study_name(session, contender, replicate)
        probe = self.config(None)
        self.metric = self.spec.objective or session.evaluator(probe).primary
        self.study = optuna.create_study(
            storage=storage,
            study_name=self.name,
            direction="maximize" if M.is_higher_better(self.metric) else "minimize",
            pruner=self._pruner(probe.eval_every),
            load_if_exists=True,
        )
        strategy = get_strategy(contender.strategy)
        self.space = search_space(strategy, self.spec)
        if self.spec.loss_params:  # the loss's own searchable parameters, within the loss's declared ranges
            searched = get_loss(contender.loss.name).search
            self.space.update({k: ("log", v) for k, v in searched.items() if k not in contender.loss.params})
        params = {f"tuning.{k}": v for k, v in self.spec.model_dump().items()}
        params.update(
            {
                "tuning.steps": self.steps,
                "study": self.name,
                "objective": self.metric,
                "replicate": replicate,
                "tuning_seeds": self.seeds,
            }
        )
        params["search_space"] = describe_search(strategy, space_text(self.space))
        tags = {TAG_PHASE: "study", TAG_CONTENDER: contender.name, TAG_STUDY: self.name, TAG_REPLICATE: str(replicate)}
        key = "study-" + hashlib.sha256(self.name.encode()).hexdigest()[:16]
        label = f"study {contender.name}" + (f" r{replicate}" if session.suite.replicates > 1 else "")
        self.run_id = session.store.child_run(session.parent, key, label, params, tags)
        self._recover()

    # ------------------------------------------------------------------------------------ policy
    def config(self, hyper: Hyper | None) -> RunConfig:
        """A trial's config: the suite's at ``tuning.steps``, evaluated at least EVALS_PER_TRIAL times so the
        pruner has intermediate values to compare (the suite's ``eval_every`` when that is more often)."""
        config = run_config(self.session.suite, self.contender, hyper, steps=self.steps)
        return dataclasses.replace(config, eval_every=min(config.eval_every, max(1, self.steps // EVALS_PER_TRIAL)))

    def _pruner(self, eval_every: int) -> optuna.pruners.BasePruner:
        if self.spec.pruner == "none":
            return optuna.pruners.NopPruner()
        if self.spec.pruner == "successive_halving":
            # the first rung is the first evaluation at or after warmup x steps
            first = eval_every * max(1, math.ceil(self.spec.warmup * self.steps / eval_every))
            return HalvingPruner(first, self.steps)
        # a small budget still prunes: few completed trials suffice. No trial is judged before `warmup` of
        # its steps (and never at its first evaluation): a slow starter is not stopped for being slow
        startup = max(2, min(5, (self.spec.trials or 2 * self.spec.batch) // 4))
        warmup = max(eval_every + 1, math.ceil(self.spec.warmup * self.steps))
        return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)

    def _seed(self) -> int:  # from the counted trials: a trial retried after a fault shifts no later draw
        blob = f"{self.spec.sampler_seed}:{self.replicate}:{self._counted()}".encode()
        return int.from_bytes(hashlib.sha256(blob).digest()[:4], "big")

    def _sampler(self) -> optuna.samplers.BaseSampler:
        # after the first batch (a Latin hypercube that ask enqueues; Lucic et al. used random search) TPE sees
        # every earlier outcome; contenders of a replicate share the seed (common random numbers)
        startup = max(1, min(10, (self.spec.trials or 2 * self.spec.batch) // 2, self.spec.batch))
        return optuna.samplers.TPESampler(
            seed=self._seed(), n_startup_trials=startup, multivariate=True, constant_liar=True
        )

    # ------------------------------------------------------------------------------------ state
    def _trials(self, state: str | None = None) -> list[Any]:
        states = None if state is None else (TrialState[state],)
        return self.study.get_trials(deepcopy=False, states=states)

    def _counted(self) -> int:
        return len(self._trials("COMPLETE")) + len(self._trials("PRUNED"))

    def counts(self) -> dict[str, int]:
        """Trials by outcome: finished (COMPLETE), pruned, diverged, failed (jobs that raised or were killed)."""
        out = dict.fromkeys(COUNTS, 0)
        default = {"COMPLETE": Status.FINISHED, "PRUNED": Status.PRUNED, "FAIL": Status.FAILED}
        for t in self._trials():
            if t.state.name in default:
                status = t.user_attrs.get(ATTR_STATUS, default[t.state.name])
                out[status if status in out else Status.FAILED] += 1
        return out

    def spent(self) -> float:
        """GFLOP of training spent by the counted trials (pruned ones up to where they stopped)."""
        return sum(t.user_attrs.get(ATTR_COMPUTE, 0.0) for t in self._trials("COMPLETE") + self._trials("PRUNED"))

    def todo(self) -> int:
        """Trials still to train, as far as the budget tells in advance (a compute budget: one more batch)."""
        if self.spec.trials is None:
            return self.remaining()
        return max(self.spec.trials - self._counted(), 0)

    def remaining(self) -> int:
        """How many trials the next batch asks: the trials a fault interrupted (retried as they were), else up
        to ``batch`` of what the budget (trials, or compute) leaves."""
        waiting = len(self._trials("WAITING"))
        if waiting:
            return waiting
        job_failures = sum(t.user_attrs.get(ATTR_STATUS) == Status.FAILED for t in self._trials("FAIL"))
        if job_failures >= (self.spec.trials or self.spec.batch):
            return 0  # a contender that fails every time must not loop forever
        if self.spec.compute is not None:
            return self.spec.batch if self.spent() < self.spec.compute else 0
        return min(max(self.spec.trials - self._counted(), 0), self.spec.batch)

    # ------------------------------------------------------------------------------------ asking and telling
    def ask(self) -> list[Asked]:
        """Ask the next batch (trials a fault interrupted come back first, with their parameters)."""
        n = self.remaining()
        self.study.sampler = self._sampler()
        if n and not self._trials():  # the study's first batch: spread over the space
            for params in first_batch(self.space, n, self._seed()):
                self.study.enqueue_trial(params, skip_if_exists=False)
        return [self._ask() for _ in range(n)]  # in order: each sees the earlier ones (constant liar)

    def _ask(self) -> Asked:
        trial = self.study.ask()
        params: dict[str, Any] = {}
        for name, (kind, values) in self.space.items():
            if kind == "choice":
                params[name] = trial.suggest_categorical(name, list(values))
            else:
                params[name] = trial.suggest_float(name, *values, log=kind == "log")
        params = tied_rates(params)
        losses = {k: v for k, v in params.items() if k not in STRATEGY_PARAMS}
        members = tuple(
            Member(
                seed,
                params["lr_g"],
                params["lr_d"],
                phase="tune",
                beta1=params.get("beta1"),
                loss_params=losses or None,
            )
            for seed in self.seeds
        )
        return Asked(self, trial, params, members)

    def tags(self, asked: Asked) -> list[dict[str, str]]:
        return [
            {TAG_STUDY: self.name, TAG_TRIAL: str(asked.trial.number), TAG_REPLICATE: str(self.replicate)}
            for _ in asked.members
        ]

    def tell(self, asked: Asked, results: list[RunResult], pruned: bool) -> None:
        """Tell Optuna how a trial ended, from its members' results (one per tuning seed): diverged when any
        diverged, pruned when the pruner stopped it, else finished with the mean of their values."""
        for m in asked.members:  # a trial never resumes (an interrupted one is retried): its checkpoints go
            self.session.checkpoint_path(m.key(asked.config)).unlink(missing_ok=True)
        statuses = [r.status for r in results]
        compute = sum(r.metrics.get(M.COMPUTE, 0.0) for r in results)
        if Status.DIVERGED in statuses:
            status = Status.DIVERGED
        elif any(s not in (Status.FINISHED, Status.PRUNED) for s in statuses):
            status = next(s for s in statuses if s not in (Status.FINISHED, Status.PRUNED))
        else:
            status = Status.PRUNED if pruned or Status.PRUNED in statuses else Status.FINISHED
        values = [r.metrics.get(self.metric) for r in results]
        value = sum(values) / len(values) if None not in values else None
        diverged_at = min((r.diverged_step for r in results if r.diverged_step is not None), default=None)
        frozen = next(t for t in self._trials("RUNNING") if t.number == asked.trial.number)
        self._tell(frozen, status, value, diverged_at, compute)
        if status == Status.DIVERGED:
            self.session.progress.note(
                f"  {self.contender.name} trial {asked.trial.number} diverged at step {diverged_at}"
            )

    def abandon(self) -> None:
        """Close the trials of a batch that will not be told (the process is stopping); a rerun retries them."""
        for trial in self._trials("RUNNING"):
            self._retry(trial, Status.KILLED)
        self.session.store.finish(self.run_id, Status.KILLED)

    def _tell(
        self, frozen: Any, status: str, value: float | None = None, diverged_at: int | None = None, compute: float = 0.0
    ) -> None:
        """Close a RUNNING trial; its ganbench status goes in a user attribute first (a closed trial is read-only)."""
        trial = optuna.trial.Trial(self.study, frozen._trial_id)
        if status == Status.FINISHED and (value is None or not math.isfinite(value)):
            status = Status.FAILED
        trial.set_user_attr(ATTR_STATUS, str(status))
        trial.set_user_attr(ATTR_COMPUTE, float(compute))
        if status == Status.FINISHED:
            self.study.tell(trial, value)
        elif status in (Status.PRUNED, Status.DIVERGED):
            if status == Status.DIVERGED and diverged_at is not None and diverged_at not in frozen.intermediate_values:
                trial.report(float("nan"), diverged_at)
            self.study.tell(trial, state=TrialState.PRUNED)
        elif status == Status.KILLED:
            self._retry(frozen, status)
        else:
            self.study.tell(trial, state=TrialState.FAIL)

    def _retry(self, frozen: Any, status: str) -> None:
        """Queue a trial that a stop or a fault interrupted to be asked again first (the rerun trains the same
        settings), then fail it; where the store cannot be written (a full disk), it stays RUNNING for the rerun."""
        if frozen.params not in [t.system_attrs.get("fixed_params") for t in self._trials("WAITING")]:
            self.study.enqueue_trial(frozen.params, skip_if_exists=False)
        trial = optuna.trial.Trial(self.study, frozen._trial_id)
        trial.set_user_attr(ATTR_STATUS, str(status))
        self.study.tell(trial, state=TrialState.FAIL)

    def _recover(self) -> None:
        """Close what a killed process left: RUNNING trials (told from their MLflow runs when every tuning seed
        finished, else retried with the same parameters) and RUNNING runs."""
        store = self.session.store
        runs = store.children(self.run_id)
        by_trial: dict[str | None, list[Any]] = {}
        for r in runs:
            by_trial.setdefault(r.data.tags.get(TAG_TRIAL), []).append(r)
        for trial in self._trials("RUNNING"):
            done = [r for r in by_trial.get(str(trial.number), []) if _has_result(r)]
            if len(done) == len(self.seeds):
                results = [result_of(r) for r in done]
                self.tell(Asked(self, trial, trial.params, ()), results, pruned=False)
            else:
                self._retry(trial, Status.KILLED)
        for r in runs:
            if r.info.status == "RUNNING":
                store.finish(r.info.run_id, Status.KILLED)
                if TAG_KEY in r.data.tags:
                    self.session.checkpoint_path(r.data.tags[TAG_KEY]).unlink(missing_ok=True)

    # ------------------------------------------------------------------------------------ the outcome
    def finish(self) -> Hyper | None:
        """Log the outcome on the study run (best setting, counts, the trials for the report) and close it."""
        store, counts = self.session.store, self.counts()
        complete = self._trials("COMPLETE")
        best = self.study.best_trial if complete else None
        metrics: dict[str, float] = {f"trials_{k}": v for k, v in counts.items()}
        metrics["tuning_compute_gflop"] = self.spent()
        if best is not None:
            metrics[M.best_key(self.metric)] = best.value
            store.log(self.run_id, params={f"best.{k}": v for k, v in best.params.items()})
        store.log(self.run_id, metrics=metrics)
        for i, value in enumerate(self.budget_curve(), start=1):
            if math.isfinite(value):
                store.log(self.run_id, metrics={"best_so_far": value}, step=i)
        store.log_text(self.run_id, json.dumps(self.trial_records()), TRIALS_ARTIFACT)
        enough = self._counted() >= self.spec.trials if self.spec.trials else self.spent() >= (self.spec.compute or 0)
        store.finish(self.run_id, Status.FINISHED if enough else Status.FAILED)
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        label = self.contender.name + (f" r{self.replicate}" if self.session.suite.replicates > 1 else "")
        if best is None:
            self.session.progress.note(f"[yellow]{label}: no trial completed ({summary}); default rates stay[/yellow]")
            return None
        self.session.progress.note(f"tuned {label}: {self.metric} {best.value:.4g} ({summary})")
        p = tied_rates(best.params)
        losses = {k: v for k, v in p.items() if k not in STRATEGY_PARAMS}
        return Hyper(
            lr_g=p["lr_g"], lr_d=p["lr_d"], beta1=p.get("beta1"), n_critic=p.get("n_critic"), loss_params=losses or None
        )

    def trial_records(self) -> list[dict[str, Any]]:
        return trial_records(self.study)

    def budget_curve(self) -> list[float]:
        return budget_curve(self.study)
