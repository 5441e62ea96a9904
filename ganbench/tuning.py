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

import dataclasses
import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganbench import metrics as M
from ganbench.config import Member, RunConfig
from ganbench.plan import Contender, Hyper, Planned, Session, chunks, contenders, run_config
from ganbench.report.studies import COUNTS, write_tuning_report
from ganbench.status import Status
from ganbench.tracking import (
    DONE_STATUSES,
    TAG_CONTENDER,
    TAG_KEY,
    TAG_PHASE,
    TAG_STATUS,
    MLflowStore,
    MLflowTracker,
    StoreError,
    sqlite_fast,
    sqlite_url,
)
from ganbench.train import STOP_REQUESTED, Interrupted, RunResult

if TYPE_CHECKING:
    import optuna


TAG_STUDY = "ganbench.study"  # the Optuna study name, on the study run and on every trial run
TAG_TRIAL = "ganbench.trial"  # the Optuna trial number, on trial runs
ATTR_STATUS = "ganbench.status"  # Optuna user attribute: finished | pruned | diverged | failed | killed
ATTR_RUN = "ganbench.run_id"  # Optuna user attribute: the trial's MLflow run
EVALS_PER_TRIAL = 4  # at least this many evaluations per trial, so the median rule can stop one early
BETA1_MAX = 0.999  # beta1 = 1 would never update (Adam's bias correction divides by 1 - beta1^t)


def default_storage_url(out_dir: Path) -> str:
    return sqlite_url(out_dir / "optuna.db")


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage (SQLite file by default, PostgreSQL to scale out); StoreError with one line if it fails."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # SQLite: wait for a writer instead of failing with "database is locked"; servers: drop dead connections
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine)
    except Exception as exc:  # sqlalchemy, alembic and driver errors all mean "cannot open"
        missing_driver = isinstance(exc, ImportError) or "DB access module" in str(exc)
        hint = " (for PostgreSQL: pip install ganbench[postgres])" if missing_driver else ""
        raise StoreError(
            f"cannot open the Optuna storage {_safe_url(url)}: {_first_line(exc)}{hint}"
        ) from None
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        sqlite_fast(storage.engine)
    return storage


def study_name(runner: Session, contender: Contender) -> str:
    """Suite name, contender and suite key: a changed suite is a new study, as it is a new MLflow parent."""
    return f"{runner.suite.name}/{contender.name}/{runner.suite.key()}"


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
    """Under a parallel executor: each round asks one batch of every unfinished study and trains all of them
    at once on the executor's workers (several trials of several studies at the same time)."""
    while active := [s for s in studies if s.remaining() > 0]:
        if STOP_REQUESTED.is_set():
            raise Interrupted("stopped between tuning rounds")
        planned = [(s, job) for s in active for job in s.plan_batch(min(s.remaining(), s.spec.batch))]
        try:
            results = runner.execute([job for _, job in planned])
        except BaseException:
            for s in active:
                s.abandon()
            raise
        for (study, job), result in zip(planned, results):
            study.record(job, result)


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
        if member in self.pruned:  # a remote worker goes on after a prune; Optuna hears nothing more
            return True
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
        params = {f"tuning.{k}": v for k, v in self.spec.model_dump().items()}
        params.update({"tuning.steps": self.steps, "study": self.name, "objective": self.metric})
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
        spec, trial = self.spec, self.study.ask()
        params: dict[str, Any] = {
            "lr_g": trial.suggest_float("lr_g", spec.lr_min, spec.lr_max, log=True),
            "lr_d": trial.suggest_float("lr_d", spec.lr_min, spec.lr_max, log=True),
        }
        if spec.beta1 is not False and self._uses_adam():
            params["beta1"] = (
                trial.suggest_categorical("beta1", list(spec.beta1))
                if isinstance(spec.beta1, list)
                else trial.suggest_float("beta1", 0.0, BETA1_MAX)
            )
        if spec.n_critic:
            params["n_critic"] = trial.suggest_categorical("n_critic", list(spec.n_critic))
        return trial, params

    def _uses_adam(self) -> bool:
        from ganbench.strategies import get_strategy

        return get_strategy(self.contender.strategy).optimizer == "adam"

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
        p = best.params
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


def _has_result(run: Any) -> bool:
    """An MLflow run that finished with a result (finished, pruned, diverged), not killed or failed."""
    return run.info.status == "FINISHED" and run.data.tags.get(TAG_STATUS) in DONE_STATUSES


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url
