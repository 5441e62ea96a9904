"""Stores named by URL that cannot be reached fail fast (exit 2, one line, within 30 s), and a stop signal ends
the wait at once; `ganbench ui` owns its server."""

from __future__ import annotations

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
    return subprocess.Popen(cmd, env=env_for_subprocess(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


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
    code, err, _ = _finish(proc, 5)
    assert time.monotonic() - sent < 3, "SIGTERM did not end the wait at once"
    assert code == 130 and "interrupted" in err


def test_ui_on_a_port_in_use_exits_2(tmp_path):
    (tmp_path / "mlflow.db").write_text("")  # a store file must exist before the port is looked at
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = subprocess.run(GANBENCH + ["ui", "--out", str(tmp_path), "--port", str(port)],
                              env=env_for_subprocess(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and f"cannot serve on 127.0.0.1:{port}" in err[0], err


def _start_long(tmp_path) -> tuple[subprocess.Popen, Path]:
    """TINY_SUITE, long enough to be caught mid-run; returns once a checkpoint is on disk."""

    suite = write_suite(tmp_path / "long.yaml", TINY_SUITE.replace("steps: 30", "steps: 5000"))
    out = Path(tmp_path) / "out"
    proc = subprocess.Popen(GANBENCH + ["run", "--suite", str(suite), "--out", str(out), "--no-progress",
                                        "--executor", "local"], env=env_for_subprocess(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
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
