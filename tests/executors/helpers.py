"""What the executors' tests share: the runs a suite left in MLflow, its report's table, and a tiny job's config."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient


def _runs(uri: str, experiment: str = "ganbench/tiny"):
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment).experiment_id
    return client, [r for r in client.search_runs([exp]) if "mlflow.parentRunId" in r.data.tags]


def _table(out: Path) -> str:
    return (out / "report" / "summary.csv").read_text()


def _assert_each_job_once(client, children, expected: int) -> None:
    keys = [r.data.tags["ganbench.key"] for r in children]
    assert len(keys) == expected and len(set(keys)) == expected  # one MLflow run per job
    for run in children:
        assert run.info.status == "FINISHED"
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "fid_raw")]
        assert len(steps) == len(set(steps))  # no evaluation logged twice


def tiny_job_config():
    """A run config that trains in a blink: the executors' jobs are about order and delivery, not learning."""
    from ganbench.config import ModelConfig, RunConfig

    return RunConfig(
        loss="hinge",
        strategy="adam_dcgan",
        dataset="ring8",
        batch_size=16,
        steps=10,
        eval_every=10,
        eval_samples=200,
        model=ModelConfig(width=8, depth=1),
    )
