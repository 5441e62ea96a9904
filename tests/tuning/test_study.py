"""Equal-budget tuning with real Optuna and MLflow stores (SQLite files in tmp_path), tiny MLPs on ring8."""

from __future__ import annotations

import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch
from optuna.trial import TrialState

from ganbench import cli
from ganbench.plan import Hyper
from ganbench.report.studies import write_tuning_report
from ganbench.runner import Runner, RunOptions
from ganbench.suite import load_suite
from ganbench.tracking import TAG_CONTENDER, TAG_PHASE, TAG_STATUS, MLflowStore, default_tracking_uri
from ganbench.train import Trainer
from ganbench.tuning import ATTR_STATUS, TAG_STUDY, TAG_TRIAL, tune_suite
from tests.conftest import ROOT, env_for_subprocess, write_suite

pytestmark = pytest.mark.slow

MODEL = """
strategies: [adam_dcgan]
datasets: [ring8]
batch_size: 64
eval_samples: 300
models:
  points: {name: mlp, width: 16, depth: 2, latent_dim: 2}
"""
# a wide learning-rate range, an evaluation every 5 steps and batches of 4: the second batch of each study
# meets 4 completed trials, some of its members fall behind their median, and the median rule stops them
SUITE = f"""
name: tune-test
losses: [non_saturating, lsgan]
seeds: 2
steps: 30
eval_every: 5
tuning: {{trials: 8, batch: 4, lr_min: 1.0e-4, lr_max: 3.0}}
{MODEL}"""
# LSGAN's discriminator explodes within a few steps at these learning rates (checked: every lr_d >= 10)
DIVERGING = f"""
name: tune-diverge
losses: [lsgan]
seeds: 1
steps: 30
eval_every: 5
tuning: {{trials: 4, batch: 4, lr_min: 10.0, lr_max: 100.0}}
{MODEL}"""
KILLED = f"""
name: tune-kill
losses: [non_saturating, hinge]
seeds: 1
steps: 30
eval_every: 10
tuning: {{trials: 6, batch: 2, lr_min: 1.0e-4, lr_max: 1.0e-2}}
{MODEL}"""
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models are dominated by per-op overhead; two threads on a busy 2-core machine are many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def mlflow_template(tmp_path_factory) -> Path:
    """An empty MLflow store made once; each output folder starts from a copy (creating one takes seconds)."""
    folder = tmp_path_factory.mktemp("mlflow-template")
    MLflowStore(default_tracking_uri(folder), "template", artifact_dir=folder / "mlartifacts")
    with sqlite3.connect(folder / "mlflow.db") as conn:  # WAL persists in the file: a commit is one fsync
        conn.execute("pragma journal_mode=wal")
    return folder / "mlflow.db"


def prepare(tmp_path: Path, name: str, suite_text: str, template: Path) -> tuple[Path, Path]:
    out = tmp_path / name
    out.mkdir()
    shutil.copy(template, out / "mlflow.db")
    return write_suite(tmp_path / f"{name}.yaml", suite_text), out


_RUNNERS: list[Runner] = []


@pytest.fixture(autouse=True)
def _close_runners():
    yield
    while _RUNNERS:
        _RUNNERS.pop().close()  # releases the output folder's one-writer lock


def make_runner(suite_path: Path, out: Path) -> Runner:
    options = RunOptions(out_dir=out, device="cpu", show_progress=False)
    _RUNNERS.append(Runner(load_suite(str(suite_path)), options))
    return _RUNNERS[-1]


def studies(out: Path) -> dict[str, optuna.Study]:
    storage = f"sqlite:///{out / 'optuna.db'}"
    return {
        s.study_name: optuna.load_study(study_name=s.study_name, storage=storage)
        for s in optuna.get_all_study_summaries(storage)
    }


def run_cli(args: list[str]) -> int:
    """``ganbench.cli.main`` in this process, restoring the signal handlers it installs."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return cli.main(args)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def history(study: optuna.Study) -> list[tuple]:
    return [(t.number, t.state, t.params, t.value, t.user_attrs.get(ATTR_STATUS)) for t in study.trials]


def small(name: str, trials: int, batch: int) -> str:
    """A quick single-contender suite: lsgan with sane learning rates, 10 steps."""
    text = DIVERGING.replace("tune-diverge", name).replace("lr_min: 10.0, lr_max: 100.0", "lr_max: 1.0e-3")
    return text.replace("trials: 4, batch: 4", f"trials: {trials}, batch: {batch}").replace("steps: 30", "steps: 10")


def test_equal_budget_tuning_then_final_phase(tmp_path, mlflow_template):
    suite_path, out = prepare(tmp_path, "a", SUITE, mlflow_template)
    runner = make_runner(suite_path, out)
    runner.run(("tune", "final"))  # tunes every contender, then trains the final seeds with the best settings
    from ganbench.report import build_report

    build_report(runner.store, runner.parent, out)  # with the tuning report (written once, with the suite's)

    found = studies(out)
    assert len(found) == 2
    for study in found.values():
        assert sum(t.state in COUNTED for t in study.trials) == 8  # the same budget for every contender
        assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    statuses = Counter(t.user_attrs.get(ATTR_STATUS) for s in found.values() for t in s.trials)
    assert statuses["pruned"] >= 1, statuses  # the median rule stopped some members

    store = runner.store
    study_runs = {r.data.tags[TAG_CONTENDER]: r for r in store.children(runner.parent, "study")}
    best = {r.data.tags[TAG_CONTENDER]: found[r.data.tags[TAG_STUDY]].best_params for r in study_runs.values()}
    assert len(study_runs) == 2
    for contender, run in study_runs.items():
        assert run.info.status == "FINISHED"
        assert float(run.data.params["best.lr_g"]) == best[contender]["lr_g"]
        assert run.data.metrics["best_w1_raw"] == found[run.data.tags[TAG_STUDY]].best_value
        trial_runs = store.children(run.info.run_id)
        assert len(trial_runs) == 8 and all(r.data.tags[TAG_PHASE] == "tune" for r in trial_runs)
        assert {r.data.tags[TAG_TRIAL] for r in trial_runs} == {str(n) for n in range(8)}

    finals = store.children(runner.parent, "final")
    assert len(finals) == 4
    for run in finals:  # the final phase trained with the tuned learning rates
        tuned = best[run.data.tags[TAG_CONTENDER]]
        assert float(run.data.params["lr_g"]) == tuned["lr_g"]
        assert float(run.data.params["lr_d"]) == tuned["lr_d"]
        assert int(run.data.params["seed"]) != runner.suite.tuning.seed

    table = pd.read_csv(out / "report" / "tuning.csv")
    assert sorted(table["loss"]) == ["lsgan", "non_saturating"]
    assert (table[["finished", "pruned", "diverged"]].sum(axis=1) == 8).all()
    assert (out / "report" / "figures" / "ring8_tuning.png").stat().st_size > 0
    assert "## ring8" in (out / "report" / "tuning.md").read_text()
    logged = {Path(a.path).name for a in store.client.list_artifacts(runner.parent, "report")}
    assert {"tuning.csv", "tuning.md"} <= logged
    figures = {Path(a.path).name for a in store.client.list_artifacts(runner.parent, "report/figures")}
    assert figures == {"ring8_tuning.png"}

    # the same sampler seed in another folder gives the same trials and the same best settings
    suite_b, out_b = prepare(tmp_path, "b", SUITE, mlflow_template)
    hypers = tune_suite(make_runner(suite_b, out_b))
    assert hypers == {(c, 0): Hyper(lr_g=p["lr_g"], lr_d=p["lr_d"]) for c, p in best.items()}
    again = studies(out_b)
    assert {n: history(s) for n, s in again.items()} == {n: history(s) for n, s in found.items()}


def test_diverged_trials_are_counted_not_failed(tmp_path, mlflow_template):
    suite_path, out = prepare(tmp_path, "d", DIVERGING, mlflow_template)
    runner = make_runner(suite_path, out)
    assert tune_suite(runner) == {}  # nothing completed: the final phase keeps the default learning rates
    write_tuning_report(runner.store, runner.parent, out / "report")

    (study,) = studies(out).values()
    assert [t.state for t in study.trials] == [TrialState.PRUNED] * 4  # counted toward the budget, not FAIL
    assert all(t.user_attrs[ATTR_STATUS] == "diverged" for t in study.trials)
    assert all(any(math.isnan(v) for v in t.intermediate_values.values()) for t in study.trials)
    (run,) = runner.store.children(runner.parent, "study")
    assert run.data.metrics["trials_diverged"] == 4 and run.data.metrics["trials_failed"] == 0
    assert {r.data.tags[TAG_STATUS] for r in runner.store.children(run.info.run_id)} == {"diverged"}
    assert pd.read_csv(out / "report" / "tuning.csv")["diverged"].tolist() == [4]


def test_failed_jobs_are_retried_then_given_up(tmp_path, mlflow_template, monkeypatch):
    text = small("tune-fail", 2, 1)
    calls = []
    real_run = Trainer.run

    def flaky(self):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("out of memory (simulated)")
        return real_run(self)

    monkeypatch.setattr(Trainer, "run", flaky)
    suite_path, out = prepare(tmp_path, "f", text, mlflow_template)
    hypers = tune_suite(make_runner(suite_path, out))
    (study,) = studies(out).values()
    states = Counter((t.state, t.user_attrs.get(ATTR_STATUS)) for t in study.trials)
    assert states[(TrialState.FAIL, "failed")] == 1  # the failed job, told FAIL ...
    assert sum(t.state in COUNTED for t in study.trials) == 2  # ... and retried up to the budget
    assert len(hypers) == 1

    def broken(self):
        raise RuntimeError("always")

    monkeypatch.setattr(Trainer, "run", broken)
    suite_path, out = prepare(tmp_path, "g", text.replace("tune-fail", "tune-broken"), mlflow_template)
    runner = make_runner(suite_path, out)
    assert tune_suite(runner) == {}  # gives up after `trials` failures instead of looping
    (study,) = studies(out).values()
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 2
    (run,) = runner.store.children(runner.parent, "study")
    assert run.info.status == "FAILED" and run.data.metrics["trials_failed"] == 2


def test_trial_told_from_its_finished_run_after_a_kill(tmp_path, mlflow_template):
    """Killed after the MLflow run closed but before Optuna was told: the rerun tells the trial from the run."""
    suite_path, out = prepare(tmp_path, "l", small("tune-late", 2, 2), mlflow_template)
    first = make_runner(suite_path, out)
    tune_suite(first)
    first.close()  # the output folder takes one writer at a time
    (study,) = studies(out).values()
    last = study.trials[-1]
    with sqlite3.connect(out / "optuna.db") as conn:  # the state such a kill leaves
        conn.execute(
            "update trials set state = 'RUNNING', datetime_complete = null where trial_id = ?", (last._trial_id,)
        )
        conn.execute("delete from trial_values where trial_id = ?", (last._trial_id,))
        conn.execute("delete from trial_user_attributes where trial_id = ? and key = ?", (last._trial_id, ATTR_STATUS))
    runner = make_runner(suite_path, out)
    tune_suite(runner)
    (study,) = studies(out).values()
    assert len(study.trials) == 2  # nothing retrained
    assert history(study)[-1] == (last.number, TrialState.COMPLETE, last.params, last.value, "finished")
    (run,) = runner.store.children(runner.parent, "study")
    assert len(runner.store.children(run.info.run_id)) == 2


def _progress(db: Path) -> tuple[int, int]:
    """(trials told COMPLETE or PRUNED, trials RUNNING that have reported an evaluation) in a live study."""
    if not db.exists():
        return 0, 0
    told = "select count(*) from trials where state in ('COMPLETE', 'PRUNED')"
    training = (
        "select count(distinct t.trial_id) from trials t join trial_intermediate_values v"
        " on v.trial_id = t.trial_id where t.state = 'RUNNING'"
    )
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(told).fetchone()[0], conn.execute(training).fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0, 0


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_stopped_tuning_resumes_without_duplicates(tmp_path, mlflow_template, monkeypatch, stop):
    """Killed (SIGKILL: the rerun closes what it left) or stopped (SIGTERM: the run closes its trials itself, exit
    130) in the middle of a tuning batch, the rerun ends with every study complete and one run per trial."""
    suite_path, out = prepare(tmp_path, "k", KILLED, mlflow_template)
    args = ["tune", "--suite", str(suite_path), "--out", str(out), "--no-progress"]
    env = {**env_for_subprocess(), "OMP_NUM_THREADS": "1"}
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ganbench.cli", *args], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    db, deadline = out / "optuna.db", time.monotonic() + 120
    try:
        while True:  # kill it mid-batch: some trials told, some training (their MLflow runs open)
            told, training = _progress(db)
            if told >= 1 and training >= 1:
                break
            assert proc.poll() is None, (
                "the tuning run ended before it could be killed:\n" + (tmp_path / "first.log").read_text()
            )
            assert time.monotonic() < deadline, "no trial finished within 120 s"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, stop)
        code = proc.wait(timeout=90)
    trials = [(n, t) for n, s in studies(out).items() for t in s.trials]
    stale = {(n, t.number) for n, t in trials if t.state == TrialState.RUNNING}
    if stop == signal.SIGKILL:
        assert stale  # the kill left trials running: the rerun must close them
    else:  # a clean stop closed the batch's trials itself (queued again) and its runs
        assert code == 130, (tmp_path / "first.log").read_text()
        assert not stale
        # the trials it interrupted (none when the signal came between two rounds: a 30-step trial is quick)
        stale = {(n, t.number) for n, t in trials if t.user_attrs.get(ATTR_STATUS) == "killed"}
        assert all(t.state == TrialState.FAIL for n, t in trials if (n, t.number) in stale)
        open_runs = MLflowStore(default_tracking_uri(out), "ganbench/tune-kill").find_runs(
            "attributes.status = 'RUNNING'"
        )
        assert not open_runs

    assert run_cli(args) == 0  # the rerun continues the studies

    store = MLflowStore(default_tracking_uri(out), "ganbench/tune-kill")
    found = studies(out)
    assert len(found) == 2
    for run in store.find_runs(f"tags.`{TAG_PHASE}` = 'study'"):
        study = found[run.data.tags[TAG_STUDY]]
        counted = {t.number for t in study.trials if t.state in COUNTED}
        assert len(counted) == 6 and not [t for t in study.trials if t.state == TrialState.RUNNING]
        trial_runs = store.children(run.info.run_id)
        finished = Counter(int(r.data.tags[TAG_TRIAL]) for r in trial_runs if r.info.status == "FINISHED")
        assert set(finished) == counted and set(finished.values()) == {1}  # one run per counted trial
        assert not [r for r in trial_runs if r.info.status == "RUNNING"]
        assert run.info.status == "FINISHED"
        for name, number in stale:  # a trial the kill interrupted was closed, not left running
            if name == study.study_name:
                trial = study.trials[number]
                assert trial.state in (*COUNTED, TrialState.FAIL)
                if trial.state == TrialState.FAIL:
                    assert trial.user_attrs[ATTR_STATUS] == "killed"
                    runs = [r for r in trial_runs if r.data.tags[TAG_TRIAL] == str(number)]
                    assert all(r.info.status == "KILLED" for r in runs)


@pytest.mark.parametrize("url", ["sqlite:////nonexistent-dir/sub/optuna.db", "nosuchdb://host/db"])
def test_unopenable_storage_is_bad_input(tmp_path, mlflow_template, capsys, url):
    suite_path, out = prepare(tmp_path, "s", DIVERGING, mlflow_template)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["tune", "--suite", str(suite_path), "--out", str(out), "--optuna-storage", url])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot open the Optuna storage" in err, err


def test_suite_may_name_another_objective(tmp_path, mlflow_template):
    """`tuning.objective` replaces the dataset's primary metric: here the % of high-quality samples, maximized."""
    text = SUITE.replace("tuning: {trials: 8, batch: 4,", "tuning: {trials: 2, batch: 2, objective: high_quality_pct,")
    suite, out = prepare(tmp_path, "objective", text.replace("[non_saturating, lsgan]", "[hinge]"), mlflow_template)
    tune_suite(make_runner(suite, out))
    (study,) = studies(out).values()
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    store = MLflowStore(default_tracking_uri(out), "ganbench/tune-test")
    by_number = {int(r.data.tags[TAG_TRIAL]): r for r in store.find_runs(f"tags.`{TAG_PHASE}` = 'tune'")}
    for trial in study.trials:
        if trial.state == TrialState.COMPLETE:
            assert trial.value == by_number[trial.number].data.metrics["high_quality_pct"]


SPACE = f"""
name: tune-space
losses: [wgan_gp]
seeds: 1
steps: 10
eval_every: 5
tuning: {{trials: 8, batch: 4, lr_min: 1.0e-4, lr_max: 1.0e-3, beta1: [0.0, 0.5], n_critic: [1, 5], pruner: none}}
{MODEL}"""


def test_the_search_space_reaches_beta1_0_and_5_critic_steps_and_the_final_phase_uses_them(tmp_path, mlflow_template):
    """Lucic et al.'s space (lr_g, lr_d, beta1, D steps) is the same for every contender; WGAN-GP can reach its
    own recipe (beta1 = 0, 5 D steps) through it, and what a trial drew is what it trained with."""
    suite_path, out = prepare(tmp_path, "space", SPACE, mlflow_template)
    runner = make_runner(suite_path, out)
    runner.run(("tune", "final"))
    (study,) = studies(out).values()
    drawn = [t.params for t in study.trials]
    first = sorted((p["beta1"], p["n_critic"]) for p in drawn[:4])  # the first batch of 4: each choice twice
    assert [b for b, _ in first] == [0.0, 0.0, 0.5, 0.5] and sorted(n for _, n in first) == [1, 1, 5, 5]
    assert {p["beta1"] for p in drawn} == {0.0, 0.5}
    assert {p["n_critic"] for p in drawn} == {1, 5}
    assert any(p["beta1"] == 0.0 and p["n_critic"] == 5 for p in drawn)  # WGAN-GP's recipe was tried
    store = runner.store
    (study_run,) = store.children(runner.parent, "study")
    by_number = {int(r.data.tags[TAG_TRIAL]): r for r in store.children(study_run.info.run_id)}
    for trial in study.trials:
        params = by_number[trial.number].data.params
        assert float(params["beta1"]) == trial.params["beta1"]
        assert int(params["n_critic"]) == trial.params["n_critic"]
    (final,) = store.children(runner.parent, "final")
    assert float(final.data.params["beta1"]) == study.best_params["beta1"]
    assert int(final.data.params["n_critic"]) == study.best_params["n_critic"]


def test_successive_halving_stops_trials_at_its_rungs_and_keeps_the_budget_equal(tmp_path, mlflow_template):
    """Rungs at warmup x steps (rounded up to an evaluation) and each doubling: a pruned trial's last
    evaluation is a rung, and every contender still gets exactly `trials` counted trials."""
    text = SUITE.replace("tuning: {trials: 8, batch: 4,", "tuning: {trials: 8, batch: 4, pruner: successive_halving,")
    suite_path, out = prepare(
        tmp_path, "sh", text.replace("[non_saturating, lsgan]", "[non_saturating]"), mlflow_template
    )
    tune_suite(make_runner(suite_path, out))
    (study,) = studies(out).values()
    assert sum(t.state in COUNTED for t in study.trials) == 8
    pruned = [t for t in study.trials if t.user_attrs.get(ATTR_STATUS) == "pruned"]
    assert pruned, history(study)
    rungs = {10, 20}  # warmup 0.25 of 30 steps = 7.5, rounded up to the evaluation at 10; then 20
    assert all(max(t.intermediate_values) in rungs for t in pruned), [t.intermediate_values for t in pruned]
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert complete and all(max(t.intermediate_values) == 30 for t in complete)


def test_tuning_on_worker_processes_prunes_there_and_decides_as_in_this_process(tmp_path, mlflow_template):
    """Worker processes ask the driver which members the pruner stops (a reply queue per worker) and drop them,
    and a study's populations (one per D-steps value) train one after another, so the studies end exactly as
    when tuned in this process, whichever worker finishes first: the same trials, values, prunes and best
    parameters, over two rounds (batches) of several studies at once."""
    from mlflow.tracking import MlflowClient

    text = SUITE.replace(
        "tuning: {trials: 8, batch: 4,",
        "tuning: {trials: 6, batch: 3, pruner: successive_halving, n_critic: [1, 5], beta1: [0.0, 0.5],",
    )
    outcomes = {}
    for executor in ("local", "processes"):
        suite_path, out = prepare(tmp_path, executor, text, mlflow_template)
        options = RunOptions(
            out_dir=out, device="cpu", show_progress=False, executor=executor, workers=2, worker_threads=1
        )
        _RUNNERS.append(Runner(load_suite(str(suite_path)), options))
        tune_suite(_RUNNERS[-1])
        outcomes[executor] = {name: (study, history(study)) for name, study in studies(out).items()}
    assert outcomes["local"].keys() == outcomes["processes"].keys()
    client = MlflowClient(default_tracking_uri(tmp_path / "processes"))
    runs = client.search_runs(
        [client.get_experiment_by_name("ganbench/tune-test").experiment_id], f"tags.`{TAG_PHASE}` = 'tune'"
    )
    by_trial = {(r.data.tags[TAG_STUDY], int(r.data.tags[TAG_TRIAL])): r for r in runs}
    populations = pruned = 0
    for name, (study, trials) in outcomes["processes"].items():
        assert trials == outcomes["local"][name][1], name
        populations += len({t.params["n_critic"] for t in study.trials})
        for t in study.trials:
            if t.user_attrs.get(ATTR_STATUS) == "pruned":
                pruned += 1  # it stopped in its worker: its run ended pruned, not finished
                assert by_trial[(name, t.number)].data.tags[TAG_STATUS] == "pruned"
    assert pruned and populations > len(outcomes["local"])  # some study trained two populations


PROTOCOL = f"""
name: tune-protocol
losses: [non_saturating, r1]
seeds: 1
steps: 20
eval_every: 10
tuning: {{trials: 2, batch: 1, seeds_per_trial: 2, loss_params: true, lr_min: 1.0e-4, lr_max: 1.0e-2, pruner: none}}
{MODEL}"""


def test_trials_average_their_tuning_seeds_and_search_the_loss_parameters(tmp_path, mlflow_template):
    """A trial trains on two tuning seeds and is scored by their mean; r1 also searches its own gamma, within the
    range the loss declares, and the final runs train with the tuned gamma."""
    from ganbench.losses import get_loss

    suite_path, out = prepare(tmp_path, "protocol", PROTOCOL, mlflow_template)
    runner = make_runner(suite_path, out)
    runner.run(("tune", "final"))
    store = runner.store
    found = studies(out)
    for study_run in store.children(runner.parent, "study"):
        study = found[study_run.data.tags[TAG_STUDY]]
        trial_runs = store.children(study_run.info.run_id)
        for trial in study.trials:
            mine = [r for r in trial_runs if r.data.tags[TAG_TRIAL] == str(trial.number)]
            assert sorted(int(r.data.params["seed"]) for r in mine) == [10_000, 10_001]
            mean = sum(r.data.metrics["w1_raw"] for r in mine) / 2
            assert trial.value == pytest.approx(mean, rel=1e-12)  # the objective is the mean of the seeds
            if "r1" in study.study_name:
                low, high = get_loss("r1").search["gamma"]
                assert low <= trial.params["gamma"] <= high
                assert {float(r.data.params["loss_params.gamma"]) for r in mine} == {trial.params["gamma"]}
            else:
                assert "gamma" not in trial.params
    (r1_final,) = [r for r in store.children(runner.parent, "final") if r.data.params["loss"] == "r1"]
    r1_study = next(s for n, s in found.items() if "/r1|" in n)
    assert float(r1_final.data.params["loss_params.gamma"]) == r1_study.best_params["gamma"]


def test_a_compute_budget_gives_cheap_trials_more_of_them(tmp_path, mlflow_template):
    """Budgets in GFLOP: a trial with 5 D steps (adam_wgangp) spends 3.3x one with 1 (adam_dcgan) here (0.031 and
    0.0093 GFLOP), so at the same compute it gets fewer trials; every trial's compute is recorded and each study
    spends at least its budget."""
    text = PROTOCOL.replace(
        "losses: [non_saturating, r1]", "losses: [non_saturating]\nstrategies: [adam_dcgan, adam_wgangp]"
    )
    text = text.replace("trials: 2, batch: 1, seeds_per_trial: 2, loss_params: true", "compute: 0.05, batch: 1")
    suite_path, out = prepare(
        tmp_path, "compute", text.replace(MODEL, MODEL.replace("strategies: [adam_dcgan]\n", "")), mlflow_template
    )
    tune_suite(make_runner(suite_path, out))
    counted = {}
    for name, study in studies(out).items():
        told = [t for t in study.trials if t.state in COUNTED]
        assert all(t.user_attrs["ganbench.compute_gflop"] > 0 for t in told)
        assert sum(t.user_attrs["ganbench.compute_gflop"] for t in told) >= 0.05
        counted["wgangp" if "adam_wgangp" in name else "dcgan"] = len(told)
    assert counted == {"dcgan": 6, "wgangp": 2}, counted  # ceil(0.05 / 0.0093) and ceil(0.05 / 0.031)


def test_a_disk_that_fills_up_mid_tuning_ends_in_one_line_and_the_rerun_tunes_as_an_uninterrupted_run(
    tmp_path, mlflow_template, monkeypatch, capsys
):
    """The disk fills up while a tuning batch trains (a checkpoint cannot be written) and stays full while the
    batch's trials are closed (Optuna's store takes no new trial: seen on a 2 MB tmpfs, where one trial was
    failed but its copy never queued, so the rerun lost its parameters). Exit 2 with one line; after
    space is freed, the rerun asks the interrupted trials again, in order: the same trials as a run that was
    never interrupted. (Their values are not compared: a retried trial may train in a population packed
    otherwise, and 30 steps at lr up to 1e-2 turn float noise into differences of 10 %.)"""
    from ganbench import population
    from ganbench.errors import disk_full

    suite_ref, ref = prepare(tmp_path, "ref", KILLED, mlflow_template)
    assert run_cli(["tune", "--suite", str(suite_ref), "--out", str(ref), "--no-progress", "--executor", "local"]) == 0

    (tmp_path / "full").mkdir()
    suite_path, out = prepare(tmp_path / "full", "k", KILLED, mlflow_template)
    saves = {"n": 0}
    save = population.PopulationState.save

    def filling(self, *args):
        saves["n"] += 1
        if saves["n"] > 3:  # some trials told, a batch training
            raise disk_full(out / "checkpoints")
        save(self, *args)

    def full_store(self, *args, **kwargs):  # once full, an update fits in the store's pages, a new trial not
        if saves["n"] > 3:
            raise sqlite3.OperationalError("database or disk is full")
        return enqueue(self, *args, **kwargs)

    enqueue = optuna.Study.enqueue_trial

    monkeypatch.setattr(population.PopulationState, "save", filling)
    monkeypatch.setattr(optuna.Study, "enqueue_trial", full_store)
    args = ["tune", "--suite", str(suite_path), "--out", str(out), "--no-progress", "--executor", "local"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        run_cli(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no space left" in err[0], err
    interrupted = [t for s in studies(out).values() for t in s.trials if t.state == TrialState.RUNNING]
    assert interrupted  # the store was full: the trials stay RUNNING for the rerun to retry

    monkeypatch.undo()  # space freed
    assert run_cli(args) == 0
    for name, study in studies(out).items():
        asked = [t.params for t in study.trials if t.state in COUNTED]
        assert asked == [t.params for t in studies(ref)[name].trials], name  # the same trials, in order
