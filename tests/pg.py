"""A real PostgreSQL server on loopback for the tests that need one (started by the test, stopped after)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_USER = "postgres"  # initdb refuses root: as root, the server runs as the distribution's postgres user


def _binary(name: str) -> str | None:
    """On PATH, or where Debian's postgresql package puts it (not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def available() -> bool:
    return all(_binary(n) for n in ("initdb", "pg_ctl")) and shutil.which("psql") is not None


def _as_server_user(cmd: list[str]) -> list[str]:
    cmd = [_binary(cmd[0]) or cmd[0], *cmd[1:]]
    return ["runuser", "-u", PG_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server(databases: list[str]) -> Iterator[dict[str, str]]:
    """Yields ``{database: url}``; the server listens on 127.0.0.1 only and is stopped on exit.

    Its folder is a fresh one under /tmp: pytest's own tmp folders are closed to the server's user."""
    base = Path(tempfile.mkdtemp(prefix="ganbench-pg-"))
    os.chmod(base, 0o777)
    data, port = base / "pgdata", _free_port()
    subprocess.run(
        _as_server_user(["initdb", "-D", str(data), "-A", "trust", "-U", "ganbench"]), check=True, capture_output=True
    )
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    subprocess.run(
        _as_server_user(["pg_ctl", "-D", str(data), "-l", str(base / "log"), "-w", "-o", opts, "start"]),
        check=True,
        capture_output=True,
    )
    try:
        for db in databases:
            subprocess.run(
                [
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "ganbench",
                    "-d",
                    "postgres",
                    "-c",
                    f"create database {db}",
                ],
                check=True,
                capture_output=True,
            )
        yield {db: f"postgresql://ganbench@127.0.0.1:{port}/{db}" for db in databases}
    finally:
        subprocess.run(_as_server_user(["pg_ctl", "-D", str(data), "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
