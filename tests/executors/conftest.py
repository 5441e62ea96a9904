"""The executors' tests' shared fixture: the tiny suite run by the local executor, the reference they compare to."""

from __future__ import annotations

import pytest

from ganbench.cli import main
from tests.conftest import TINY_SUITE, write_suite


@pytest.fixture(scope="session")  # once per test process, for every file that compares with it
def local_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("local")
    suite = write_suite(base / "tiny.yaml", TINY_SUITE)
    assert main(["run", "--suite", str(suite), "--out", str(base / "out"), "--no-progress"]) == 0
    return suite, base / "out"
