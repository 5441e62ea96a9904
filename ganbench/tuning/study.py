"""One contender's Optuna study: ask a batch of trials, train them as one population, tell the results, and
recover trials a killed process left open."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from ganbench import metrics as M
from ganbench.config import Member, RunConfig
from ganbench.plan import Contender, Hyper, Planned, Session, chunks, run_config
from ganbench.report.studies import COUNTS
from ganbench.status import Status
from ganbench.strategies import describe_search, get_strategy, search_space, space_text, tied_rates
from ganbench.tracking import (
    TAG_CONTENDER,
    TAG_KEY,
    TAG_PHASE,
    TAG_STATUS,
    MLflowStore,
)
from ganbench.train import STOP_REQUESTED, Interrupted, RunResult

if TYPE_CHECKING:
    import optuna


from ganbench.tuning.base import (
    ATTR_RUN,
    ATTR_STATUS,
    EVALS_PER_TRIAL,
    TAG_STUDY,
    TAG_TRIAL,
    _has_result,
    study_name,
)
from ganbench.tuning.pruning import HalvingPruner, TrialTracker


class ContenderStudy:
    """One contender's study, its MLflow study run (phase ``study``, child of the suite run) and its trials."""

    def __init__(self, runner: Session, contender: Contender, storage: Any) -> None:
        import optuna

        self.runner, self.contender, self.spec = runner, contender, runner.suite.tuning
        self.steps = self.spec.steps or runner.suite.steps
        self.name = study_name(runner, contender)
        probe = self.config(None)
        self.metric = self.spec.objective or runner.evaluator(probe).primary
        self.study = optuna.create_study(
            storage=storage,
            study_name=self.name,
            direction="maximize" if M.is_higher_better(self.metric) else "minimize",
            pruner=self._pruner(probe.eval_every),
            load_if_exists=True,
        )
        strategy = get_strategy(contender.strategy)
        self.space = search_space(strategy, self.spec)
        params = {f"tuning.{k}": v for k, v in self.spec.model_dump().items()}
        params.update({"tuning.steps": self.steps, "study": self.name, "objective": self.metric})
        params["search_space"] = describe_search(strategy, space_text(self.space))
        tags = {TAG_PHASE: "study", TAG_CONTENDER: contender.name, TAG_STUDY: self.name}
        key = "study-" + hashlib.sha256(self.name.encode()).hexdigest()[:16]
        self.run_id = runner.store.child_run(runner.parent, key, f"study {contender.name}", params, tags)
        self._trackers: dict[
            tuple[int, ...], TrialTracker
        ] = {}  # by trial numbers, until their results are told
        self._recover()

    # ------------------------------------------------------------------------------------ policy
    def config(self, hyper: Hyper | None) -> RunConfig:
        """A trial's config: the suite's at ``tuning.steps``, evaluated at least EVALS_PER_TRIAL times so the
        median rule has intermediate values to compare (the suite's ``eval_every`` when that is more often)."""
        config = run_config(self.runner.suite, self.contender, hyper, steps=self.steps)
        return dataclasses.replace(
            config, eval_every=min(config.eval_every, max(1, self.steps // EVALS_PER_TRIAL))
        )

    def _pruner(self, eval_every: int) -> optuna.pruners.BasePruner:
        import optuna

        if self.spec.pruner == "none":
            return optuna.pruners.NopPruner()
        if self.spec.pruner == "successive_halving":
            # the first rung is the first evaluation at or after warmup x steps
            first = eval_every * max(1, math.ceil(self.spec.warmup * self.steps / eval_every))
            return HalvingPruner(first, self.steps)
        # a small budget still prunes: few completed trials suffice. No trial is judged before `warmup` of
        # its steps (and never at its first evaluation): a slow starter is not stopped for being slow
        startup = max(2, min(5, self.spec.trials // 4))
        warmup = max(eval_every + 1, math.ceil(self.spec.warmup * self.steps))
        return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)

    def _sampler(self) -> optuna.samplers.BaseSampler:
        import optuna

        n_before = len(self.study.get_trials(deepcopy=False))
        blob = f"{self.spec.sampler_seed}:{n_before}".encode()
        seed = int.from_bytes(hashlib.sha256(blob).digest()[:4], "big")
        # random search for the first half of a small budget (Lucic et al. used random search), then TPE;
        # contenders share the seed, so they start from the same random points (common random numbers)
        startup = max(1, min(10, self.spec.trials // 2))
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=startup, multivariate=True, constant_liar=True
        )

    # ------------------------------------------------------------------------------------ state
    def _trials(self, state: str | None = None) -> list[Any]:
        from optuna.trial import TrialState

        states = None if state is None else (TrialState[state],)
        return self.study.get_trials(deepcopy=False, states=states)

    def counts(self) -> dict[str, int]:
        """Trials by outcome: finished (COMPLETE), pruned, diverged, failed (jobs that raised or were killed)."""
        out = dict.fromkeys(COUNTS, 0)
        default = {"COMPLETE": Status.FINISHED, "PRUNED": Status.PRUNED, "FAIL": Status.FAILED}
        for t in self.study.get_trials(deepcopy=False):
            if t.state.name in default:
                status = t.user_attrs.get(ATTR_STATUS, default[t.state.name])
                out[status if status in out else Status.FAILED] += 1
        return out

    def remaining(self) -> int:
        counted = len(self._trials("COMPLETE")) + len(self._trials("PRUNED"))
        job_failures = sum(t.user_attrs.get(ATTR_STATUS) == Status.FAILED for t in self._trials("FAIL"))
        if job_failures >= self.spec.trials:
            return 0  # a contender that fails every time must not loop forever
        return max(self.spec.trials - counted, 0)

    # ------------------------------------------------------------------------------------ the loop
    def run(self) -> Hyper | None:
        try:
            while (todo := self.remaining()) > 0:
                if STOP_REQUESTED.is_set():  # a clean stop (SIGINT/SIGTERM) asks no new trials
                    raise Interrupted("stopped between tuning batches")
                self._batch(min(todo, self.spec.batch))
        except BaseException:
            self.runner.store.finish(self.run_id, Status.KILLED)
            raise
        return self._finish()

    def _batch(self, n: int) -> None:
        planned = self.plan_batch(n)
        try:
            for job in planned:
                self.record(job, self.runner.execute([job], executor=self.runner.local_executor)[0])
        except BaseException:
            self.abandon()
            raise

    def plan_batch(self, n: int) -> list[Planned]:
        """Ask ``n`` trials and plan them as populations (one per n_critic value, ``population_size`` at most)."""
        self.study.sampler = self._sampler()
        asked = [self._ask() for _ in range(n)]  # in order: the sampler sees each earlier one (constant liar)
        by_critic: dict[int | None, list[tuple[Any, dict[str, Any]]]] = defaultdict(list)
        for trial, params in asked:
            by_critic[params.get("n_critic")].append((trial, params))  # one population shares n_critic
        return [
            self._plan(chunk, n_critic)
            for n_critic, group in by_critic.items()
            for chunk in chunks(group, self.runner.options.population_size)
        ]

    def abandon(self) -> None:
        """Close the trials of a batch that will not be told (the process is stopping)."""
        for trial in self._trials("RUNNING"):
            self._tell(trial, Status.KILLED)
        self.runner.store.finish(self.run_id, Status.KILLED)

    def _ask(self) -> tuple[Any, dict[str, Any]]:
        trial = self.study.ask()
        params: dict[str, Any] = {}
        for name, (kind, values) in self.space.items():
            if kind == "choice":
                params[name] = trial.suggest_categorical(name, list(values))
            else:
                params[name] = trial.suggest_float(name, *values, log=kind == "log")
        return trial, tied_rates(params)

    def _plan(self, chunk: list[tuple[Any, dict[str, Any]]], n_critic: int | None) -> Planned:
        trials = [t for t, _ in chunk]
        lead = chunk[0][1]
        hyper = Hyper(lead["lr_g"], lead["lr_d"], n_critic=n_critic)  # the config takes n_critic from it
        config = self.config(hyper)
        members = [
            Member(self.spec.seed, p["lr_g"], p["lr_d"], phase="tune", beta1=p.get("beta1")) for _, p in chunk
        ]
        tags = [{TAG_STUDY: self.name, TAG_TRIAL: str(t.number)} for t in trials]

        def tracker(store: MLflowStore, run_ids: list[str], dataset: Any) -> TrialTracker:
            for trial, run_id in zip(trials, run_ids):
                trial.set_user_attr(ATTR_RUN, run_id)
            made = TrialTracker(store, run_ids, dataset, trials, self.metric)
            self._trackers[tuple(t.number for t in trials)] = made
            return made

        return Planned(config, members, self.contender, tags, self.run_id, tracker)

    def record(self, job: Planned, results: list[RunResult]) -> None:
        """Tell Optuna how a population of trials ended."""
        # a trial never resumes (an interrupted one is retried), so its checkpoint is only disk used
        for m in job.members:
            self.runner.checkpoint_path(m.key(job.config)).unlink(missing_ok=True)
        tracker = self._trackers.pop(tuple(int(tag[TAG_TRIAL]) for tag in job.tags or []))
        frozen = {t.number: t for t in self._trials("RUNNING")}
        for i, (trial, result) in enumerate(zip(tracker.trials, results)):
            # a remote executor cannot stop a member the pruner stopped; its later evaluations were ignored
            status = (
                Status.PRUNED if i in tracker.pruned and result.status == Status.FINISHED else result.status
            )
            self._tell(frozen[trial.number], status, result.metrics.get(self.metric), result.diverged_step)
            if status == Status.DIVERGED:
                where = f"trial {trial.number} diverged at step {result.diverged_step}"
                self.runner.progress.note(f"  {self.contender.name} {where}")

    def _tell(
        self, frozen: Any, status: str, value: float | None = None, diverged_at: int | None = None
    ) -> None:
        """Close a RUNNING trial; its ganbench status goes in a user attribute first (a closed trial is read-only)."""
        import optuna
        from optuna.trial import TrialState

        trial = optuna.trial.Trial(self.study, frozen._trial_id)
        if status == Status.FINISHED and (value is None or not math.isfinite(value)):
            status = Status.FAILED
        trial.set_user_attr(ATTR_STATUS, status)
        if status == Status.FINISHED:
            self.study.tell(trial, value)
        elif status in (Status.PRUNED, Status.DIVERGED):
            if (
                status == Status.DIVERGED
                and diverged_at is not None
                and diverged_at not in frozen.intermediate_values
            ):
                trial.report(float("nan"), diverged_at)
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            self.study.tell(trial, state=TrialState.FAIL)

    def _recover(self) -> None:
        """Close what a killed process left: RUNNING trials (from their MLflow run if it finished) and runs."""
        store = self.runner.store
        runs = store.children(self.run_id)
        by_trial = defaultdict(list)
        for r in runs:
            by_trial[r.data.tags.get(TAG_TRIAL)].append(r)
        for trial in self._trials("RUNNING"):
            done = [r for r in by_trial[str(trial.number)] if _has_result(r)]
            if done:
                status, metrics = done[0].data.tags[TAG_STATUS], done[0].data.metrics
                step = metrics.get(M.DIVERGED_STEP)
                self._tell(trial, status, metrics.get(self.metric), None if step is None else int(step))
            else:
                self._tell(trial, Status.KILLED)
        for r in runs:
            if r.info.status == "RUNNING":
                store.finish(r.info.run_id, Status.KILLED)
                if TAG_KEY in r.data.tags:
                    self.runner.checkpoint_path(r.data.tags[TAG_KEY]).unlink(missing_ok=True)

    def _finish(self) -> Hyper | None:
        """Log the outcome on the study run (best setting, counts, the budget curve) and close it."""
        store, counts = self.runner.store, self.counts()
        complete = self._trials("COMPLETE")
        best = self.study.best_trial if complete else None
        metrics: dict[str, float] = {f"trials_{k}": v for k, v in counts.items()}
        if best is not None:
            metrics[M.best_key(self.metric)] = best.value
            store.log(self.run_id, params={f"best.{k}": v for k, v in best.params.items()})
        store.log(self.run_id, metrics=metrics)
        for i, value in enumerate(self.budget_curve(), start=1):
            if math.isfinite(value):
                store.log(self.run_id, metrics={"best_so_far": value}, step=i)
        counted = len(complete) + len(self._trials("PRUNED"))
        store.finish(self.run_id, Status.FINISHED if counted >= self.spec.trials else Status.FAILED)
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        if best is None:
            message = (
                f"{self.contender.name}: no trial completed ({summary}); the default learning rates stay"
            )
            self.runner.progress.note(f"[yellow]{message}[/yellow]")
            return None
        self.runner.progress.note(f"tuned {self.contender.name}: {self.metric} {best.value:.4g} ({summary})")
        p = tied_rates(best.params)
        return Hyper(lr_g=p["lr_g"], lr_d=p["lr_d"], beta1=p.get("beta1"), n_critic=p.get("n_critic"))

    def budget_curve(self) -> list[float]:
        """Best value after each counted trial, in trial order (NaN until the first completed trial)."""
        better = max if self.study.direction.name == "MAXIMIZE" else min
        best, curve = math.nan, []
        for t in sorted(self._trials("COMPLETE") + self._trials("PRUNED"), key=lambda t: t.number):
            if t.state.name == "COMPLETE":
                best = t.value if math.isnan(best) else better(best, t.value)
            curve.append(best)
        return curve
