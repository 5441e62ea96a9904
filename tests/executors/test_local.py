"""The driver in this process (the local executor's): a second writer on the SQLite stores is refused."""

from __future__ import annotations

import pytest

from ganbench.runner import Runner, RunOptions
from ganbench.suite import load_suite
from ganbench.tracking import StoreError
from tests.conftest import TINY_SUITE, write_suite


def test_second_writer_on_sqlite_stores_is_refused(tmp_path):
    suite = load_suite(str(write_suite(tmp_path / "tiny.yaml", TINY_SUITE)))
    first = Runner(suite, RunOptions(out_dir=tmp_path / "out", show_progress=False))
    with pytest.raises(StoreError, match="another ganbench process is writing to"):
        Runner(suite, RunOptions(out_dir=tmp_path / "out", show_progress=False))
    first.close()
