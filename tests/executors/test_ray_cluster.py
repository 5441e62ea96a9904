"""The Ray executor on a local cluster: the same table as the local executor."""

from __future__ import annotations

import importlib.util

import pytest

from ganbench.cli import main
from tests.executors.helpers import _assert_each_job_once, _runs, _table


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray not installed")
def test_ray_local_cluster_gives_the_same_table_as_local(local_run, tmp_path):
    suite, local_out = local_run
    out = tmp_path / "out"
    args = ["run", "--suite", str(suite), "--out", str(out), "--no-progress", "--executor", "ray", "--workers", "2"]
    assert main(args) == 0
    client, children = _runs(f"sqlite:///{out / 'mlflow.db'}")
    _assert_each_job_once(client, children, 4)
    assert _table(out) == _table(local_out)
