"""Stores named by URL that cannot be reached fail fast (exit 2, one line, within 30 s), and a stop signal ends
the wait at once; `ganbench ui` owns its server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import GANBENCH, TINY_SUITE, env_for_subprocess, write_suite

BOUND_S = 30

TUNED_SUITE = TINY_SUITE + "tuning: {trials: 2, batch: 2}\n"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


class Blackhole:
    """A TCP server that accepts connections and never answers (a firewall that drops, a hung server)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connected = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.connected.set()

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def blackhole():
    hole = Blackhole()
    yield hole
    hole.close()


def _run(tmp_path, *flags: str, suite_text: str = TINY_SUITE) -> subprocess.Popen:
    suite = write_suite(tmp_path / "s.yaml", suite_text)
    cmd = GANBENCH + ["run", "--suite", str(suite), "--out", str(tmp_path / "out"), "--no-progress", *flags]
    return subprocess.Popen(cmd, env=env_for_subprocess(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, bound: float) -> tuple[int, str, float]:
    start = time.monotonic()
    _, err = proc.communicate(timeout=bound + 60)  # generous: the assertion below is the bound
    return proc.returncode, err.strip(), time.monotonic() - start


@pytest.mark.parametrize("flag", ["--tracking-uri", "--optuna-storage"])
def test_a_store_that_refuses_fails_at_once(tmp_path, flag):
    port = _closed_port()
    url = f"http://127.0.0.1:{port}" if flag == "--tracking-uri" else f"postgresql://u:pw@127.0.0.1:{port}/db"
    started = time.monotonic()
    code, err, _ = _finish(_run(tmp_path, flag, url, suite_text=TUNED_SUITE), BOUND_S)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "cannot reach the" in err and f"127.0.0.1:{port}" in err and "pw" not in err
    assert time.monotonic() - started < BOUND_S
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag", ["--tracking-uri", "--optuna-storage"])
def test_a_store_that_never_answers_fails_within_the_bound(tmp_path, blackhole, flag):
    port = blackhole.port
    url = f"http://127.0.0.1:{port}" if flag == "--tracking-uri" else f"postgresql://u@127.0.0.1:{port}/db"
    started = time.monotonic()
    code, err, _ = _finish(_run(tmp_path, flag, url, suite_text=TUNED_SUITE), BOUND_S)
    elapsed = time.monotonic() - started
    assert blackhole.connected.is_set()  # it did try the server
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "cannot reach the" in err
    assert elapsed < BOUND_S, f"took {elapsed:.1f} s"


def test_a_stop_signal_ends_the_wait_at_once(tmp_path, blackhole):
    proc = _run(tmp_path, "--tracking-uri", f"http://127.0.0.1:{blackhole.port}")
    assert blackhole.connected.wait(60), "ganbench never probed the server"
    time.sleep(0.3)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code, err, _ = _finish(proc, 15)
    # well under the probe's own bound (the wait would otherwise last it out); a loaded machine's exit takes seconds
    assert time.monotonic() - sent < 8, "SIGTERM did not end the wait at once"
    assert code == 130 and "interrupted" in err


def test_ui_on_a_port_in_use_exits_2(tmp_path):
    (tmp_path / "mlflow.db").write_text("")  # a store file must exist before the port is looked at
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = subprocess.run(
            GANBENCH + ["ui", "--out", str(tmp_path), "--port", str(port)],
            env=env_for_subprocess(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and f"cannot serve on 127.0.0.1:{port}" in err[0], err


def _start_long(tmp_path) -> tuple[subprocess.Popen, Path]:
    """TINY_SUITE, long enough to be caught mid-run; returns once a checkpoint is on disk."""

    suite = write_suite(tmp_path / "long.yaml", TINY_SUITE.replace("steps: 30", "steps: 5000"))
    out = Path(tmp_path) / "out"
    proc = subprocess.Popen(
        GANBENCH + ["run", "--suite", str(suite), "--out", str(out), "--no-progress", "--executor", "local"],
        env=env_for_subprocess(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while not list((out / "checkpoints").glob("*.pt")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.1)
    return proc, out


@pytest.mark.slow
def test_a_store_deleted_while_the_suite_runs_ends_it_with_exit_2_and_one_line(tmp_path):
    proc, out = _start_long(tmp_path)
    for name in ("mlflow.db", "mlflow.db-wal", "mlflow.db-shm"):
        (out / name).unlink(missing_ok=True)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "was deleted or replaced" in lines[0] and "mlflow.db" in lines[0], err
    assert not (out / "report").exists()  # no report from a store that is gone


def test_store_urls_are_shown_without_their_password_and_http_credentials_go_to_mlflows_variables(monkeypatch):
    from ganbench.guard import http_credentials, mask_password

    assert mask_password("postgresql://bob:s3cret@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert (
        mask_password("cannot reach https://bob:s3cret@host/ml: refused")
        == "cannot reach https://bob:***@host/ml: refused"
    )
    assert mask_password("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    assert http_credentials("https://bob:s%40cret@host:5000/ml") == "https://host:5000/ml"
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "bob" and os.environ["MLFLOW_TRACKING_PASSWORD"] == "s@cret"
    assert http_credentials("http://host:5000") == "http://host:5000"


def test_a_store_that_cannot_be_reached_is_named_without_its_password(tmp_path):
    proc = _run(tmp_path, "--tracking-uri", f"http://bob:s3cret@127.0.0.1:{_closed_port()}")
    code, err, _ = _finish(proc, 60)
    assert code == 2 and "s3cret" not in err and "bob:***@" in err, err


def test_one_writer_per_sqlite_store_wherever_its_path_comes_from(tmp_path):
    from ganbench.stores import sqlite_locks
    from ganbench.tracking import StoreError, sqlite_url

    shared = sqlite_url(tmp_path / "shared" / "mlflow.db")
    (tmp_path / "shared").mkdir()  # a store's folder exists; a missing one is refused elsewhere
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = sqlite_locks(tmp_path / "a", [shared])
    with pytest.raises(StoreError, match="another ganbench process is writing to .*shared"):
        sqlite_locks(tmp_path / "b", [shared])  # another output folder, the same store file
    for lock in first:
        lock.close()
    for lock in sqlite_locks(tmp_path / "b", [shared]):  # free again once the first writer left
        lock.close()


def test_report_never_creates_a_store(tmp_path, capsys):
    from ganbench.cli import main

    suite = write_suite(tmp_path / "tiny.yaml", TINY_SUITE)
    for extra in ([], ["--tracking-uri", f"sqlite:///{tmp_path / 'elsewhere.db'}"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["report", "--suite", str(suite), "--out", str(tmp_path / "out"), *extra])
        assert exit_info.value.code == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.db"))


@pytest.mark.slow
def test_a_sigkilled_ui_leaves_no_server_behind(tmp_path):
    from ganbench.tracking import MLflowStore, default_tracking_uri

    MLflowStore(default_tracking_uri(tmp_path), "ganbench/x")  # a store to serve
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        GANBENCH + ["ui", "--out", str(tmp_path), "--port", str(port)],
        env=env_for_subprocess(),
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while True:  # until the server answers
        assert proc.poll() is None and time.monotonic() < deadline
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as client:
            if client.connect_ex(("127.0.0.1", port)) != 0:
                return  # nothing listens any more: the server is gone
        time.sleep(0.5)
    raise AssertionError("the UI server outlived ganbench ui")
