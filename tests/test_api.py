"""The Python API (``ganbench.run_suite``), the suite run's page in MLflow, and a contender whose runs all failed."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient

import ganbench
from ganbench.cli import main
from tests.conftest import TINY_SUITE, write_suite


def test_run_suite_returns_the_table_the_cli_writes(tmp_path, capsys):
    suite = write_suite(tmp_path / "tiny.yaml", TINY_SUITE)
    assert main(["run", "--suite", str(suite), "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    cli_table = pd.read_csv(tmp_path / "cli" / "report" / "summary.csv")

    result = ganbench.run_suite(str(suite), out=tmp_path / "api", progress=False)
    assert result.report_html == tmp_path / "api" / "report" / "report.html" and result.report_html.exists()
    api_table = pd.read_csv(result.files["csv"])
    pd.testing.assert_frame_equal(api_table, cli_table)  # same seeds, same runs: the same numbers
    assert set(result.summary["loss"]) == {"non_saturating", "hinge"}
    assert len(result.runs) == 4 and result.headline and result.parent_run_id
    # the wide table holds the long summary's means
    long = {(r.dataset, r.loss, r.strategy, str(r.metric)): r.mean for r in result.summary.itertuples()}
    wide = {(*key[:3], str(key[3])): mean for key, mean in result.table.stack().items()}
    assert wide == {key: mean for key, mean in long.items() if mean == mean}
    assert len(repr(result).splitlines()) == 3 + len(result.headline)
    # a dict suite gives the same result as its file
    import yaml

    again = ganbench.run_suite(yaml.safe_load(TINY_SUITE), out=tmp_path / "dict", progress=False)
    pd.testing.assert_frame_equal(pd.read_csv(again.files["csv"]), cli_table)


def test_run_suite_bad_input_raises_one_line_errors(tmp_path):
    with pytest.raises(ganbench.GanbenchError, match="unknown loss 'nope'"):
        ganbench.run_suite({"name": "x", "losses": ["nope"], "datasets": ["ring8"]}, out=tmp_path / "o")
    with pytest.raises(ganbench.GanbenchError, match="unknown executor 'slurm'"):
        ganbench.run_suite("smoke", out=tmp_path / "o", executor="slurm")
    assert not (tmp_path / "o").exists()


def test_the_suite_run_page_in_mlflow(tmp_path):
    """The experiment opens in MLflow's model-training view; the suite run carries the verdict as its
    description, the primary metric per contender as metrics, and the report as artifacts."""
    result = ganbench.run_suite(write_suite(tmp_path / "tiny.yaml", TINY_SUITE), out=tmp_path / "o", progress=False)
    client = MlflowClient(result.tracking_uri)
    experiment = client.get_experiment_by_name("ganbench/tiny")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    parent = client.get_run(result.parent_run_id)
    note = parent.data.tags["mlflow.note.content"]
    assert result.headline[0] in note
    assert "w1_raw.ring8.hinge.adam_dcgan" in parent.data.metrics
    mean = result.summary.query("metric == 'w1_raw' and loss == 'hinge'")["mean"].iloc[0]
    assert parent.data.metrics["w1_raw.ring8.hinge.adam_dcgan"] == pytest.approx(mean)
    names = {a.path for a in client.list_artifacts(result.parent_run_id, "report")}
    assert {"report/report.html", "report/summary.csv", "report/summary.md"} <= names


FAILS_IN_TRAINING = """
import torch.nn.functional as F
from ganbench import LossTerms, register_loss

@register_loss("fails_in_training")
def fails_in_training(d_real, d_fake):
    if d_real.shape[-1] > 8:  # the contract check uses batches of 8; training uses more
        raise RuntimeError("this loss only works on tiny batches")
    real, fake = F.softplus(-d_real).mean(dim=-1), F.softplus(d_fake).mean(dim=-1)
    return LossTerms(real + fake, F.softplus(-d_fake).mean(dim=-1), real, fake)
"""


def test_a_contender_whose_runs_all_failed_is_reported_not_dropped(tmp_path, clean_registries, capsys):
    (tmp_path / "fails.py").write_text(FAILS_IN_TRAINING)
    suite = write_suite(
        tmp_path / "s.yaml",
        TINY_SUITE.replace(
            "losses: [non_saturating, hinge]", "plugins: [fails.py]\nlosses: [fails_in_training, hinge]"
        ),
    )
    assert main(["run", "--suite", str(suite), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    terminal = capsys.readouterr().out
    flat = " ".join(terminal.split())  # the terminal view wraps at 80 columns
    assert "FAILED, no result: fails_in_training" in flat  # in the verdict
    assert "fails_in_training (all 2/2 runs failed: RuntimeError: this loss only works" in flat  # in Validity
    html = (tmp_path / "o" / "report" / "report.html").read_text()
    assert "fails_in_training" in html and "this loss only works on tiny batches" in html
    client = MlflowClient(f"sqlite:///{tmp_path / 'o' / 'mlflow.db'}")
    parent = client.search_runs(
        [client.get_experiment_by_name("ganbench/tiny").experiment_id], "tags.`ganbench.phase` = 'suite'"
    )[0]
    assert "fails_in_training" in parent.data.tags["ganbench.report.validity.failed"]


def test_auto_executor_uses_one_single_threaded_process_per_core_only_for_large_suites(monkeypatch):
    from ganbench import startup as api  # where the executor is chosen
    from ganbench.api import choose_executor

    bundled = ganbench.load("losses")
    monkeypatch.setattr(api, "usable_cpus", lambda: 2)
    assert api.planned_steps(bundled) >= api.AUTO_PROCESSES_MIN_STEPS
    assert choose_executor(bundled, "auto", None, "cpu") == ("processes", 2, 1)
    assert choose_executor(ganbench.load("losses", quick=True), "auto", None, "cpu") == ("local", 2, None)
    monkeypatch.setattr(api, "usable_cpus", lambda: 1)
    assert choose_executor(bundled, "auto", None, "cpu")[0] == "local"
    monkeypatch.setattr(api, "usable_cpus", lambda: 8)
    # explicit choices are kept; CPU workers share the cores instead of each taking all of them
    assert choose_executor(bundled, "processes", 2, "cpu") == ("processes", 2, 4)
    assert choose_executor(bundled, "processes", None, "cpu") == ("processes", 2, 4)
    assert choose_executor(bundled, "local", None, "cpu") == ("local", 2, None)


def test_auto_keeps_a_loss_workers_cannot_load_in_this_process(tmp_path, monkeypatch):
    """A loss defined in a notebook cannot reach worker processes: `auto` trains it here instead of refusing
    it, while an explicit --executor processes still refuses it with one line."""
    from ganbench import startup as api
    from ganbench.plugins import PluginError

    def refuse(suite, executor):
        if executor != "local":
            raise PluginError("loss 'mine' was registered in __main__")

    monkeypatch.setattr(api, "check_plugins_reach_workers", refuse)
    monkeypatch.setattr(api, "AUTO_PROCESSES_MIN_STEPS", 0)
    monkeypatch.setattr(api, "usable_cpus", lambda: 2)
    suite = write_suite(tmp_path / "tiny.yaml", TINY_SUITE)
    result = ganbench.run_suite(str(suite), out=tmp_path / "auto", progress=False, report=False)
    assert result.parent_run_id
    with pytest.raises(PluginError, match="registered in __main__"):
        ganbench.run_suite(str(suite), out=tmp_path / "proc", progress=False, executor="processes")


def test_auto_tunes_on_the_worker_processes_too(tmp_path, monkeypatch):
    """Under `auto` on a CPU the trials train in the worker processes as well as the final seeds: workers wait
    for the pruner's answers (tests/tuning/test_study.py checks they decide as this process would)."""
    from ganbench import startup as api
    from tests.conftest import record_population_sizes

    monkeypatch.setattr(api, "AUTO_PROCESSES_MIN_STEPS", 0)
    monkeypatch.setattr(api, "usable_cpus", lambda: 2)
    sizes = record_population_sizes(monkeypatch)  # the trainers built in this process
    tuned = TINY_SUITE + "tuning: {trials: 2, batch: 2, pruner: none}\n"
    result = ganbench.run_suite(write_suite(tmp_path / "t.yaml", tuned), out=tmp_path / "o", progress=False)
    assert len(result.runs) == 4 and set(result.runs["status"]) == {"finished"}
    assert sizes == []  # 2 contenders x 2 trials and their seeds: none trained in this process


# ---------------------------------------------------------------------------------------------- the result object
def _result() -> ganbench.SuiteResult:
    """Two datasets x two contenders x two metrics, as the report's long summary holds them."""
    from types import SimpleNamespace

    rows = []
    for dataset, primary, order in (
        ("ring8", "w1_raw", ["hinge", "minimax"]),
        ("grid25", "w1_raw", ["minimax", "hinge"]),
    ):
        for rank, loss in enumerate(order, start=1):
            for metric, mean in (("w1_raw", 0.1 * rank), ("modes_covered", 9.0 - rank)):
                rows.append(
                    {
                        "dataset": dataset,
                        "loss": loss,
                        "strategy": "adam",
                        "metric": metric,
                        "n": 2,
                        "mean": mean,
                        "rank": float(rank) if metric == primary else 3.0 - rank,
                    }
                )
    runs = pd.DataFrame({"seed": [0, 1] * 4, "loss": ["hinge", "minimax"] * 4})
    return ganbench.SuiteResult(
        "demo",
        pd.DataFrame(rows),
        runs,
        None,
        headline=["ring8: best hinge", "grid25: best minimax"],
        warnings=["too few seeds on ring8"],
        report=SimpleNamespace(primary={"ring8": "w1_raw", "grid25": "w1_raw"}),
    )


def test_the_wide_table_has_a_row_per_contender_and_dataset_and_a_column_per_metric() -> None:
    table = _result().table
    assert list(table.columns) == ["w1_raw", "modes_covered"]  # the primary metric first
    assert table.index.names == ["dataset", "loss", "strategy"]
    # datasets in order, each dataset's rows best first by its primary metric's rank
    assert list(table.index) == [
        ("grid25", "minimax", "adam"),
        ("grid25", "hinge", "adam"),
        ("ring8", "hinge", "adam"),
        ("ring8", "minimax", "adam"),
    ]
    assert table.loc[("ring8", "minimax", "adam"), "w1_raw"] == pytest.approx(0.2)
    assert table.loc[("grid25", "minimax", "adam"), "modes_covered"] == pytest.approx(8.0)


def test_the_repr_is_a_few_lines() -> None:
    text = repr(_result())
    assert text.splitlines() == [
        "SuiteResult('demo': 2 contenders x 2 datasets, 2 seeds, 8 runs; 1 validity warnings)",
        "  ring8: best hinge",
        "  grid25: best minimax",
        "  report: None",
        "  .table: 4 rows x 2 metrics (wide); .summary: 8 rows (long); .runs; .headline; .warnings; .files",
    ]
    empty = ganbench.SuiteResult(
        "demo", pd.DataFrame(), pd.DataFrame(), None, tracking_uri="sqlite:///x.db", parent_run_id="abc"
    )
    assert repr(empty) == "SuiteResult('demo': no report; MLflow run abc in sqlite:///x.db)"
    assert empty.table.empty
