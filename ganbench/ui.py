"""``ganbench ui``: the MLflow UI on a suite's store, as a process group this command owns and stops, even
when it is killed itself."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ganbench.errors import InputError

STARLETTE_DEPRECATED = ("run_until_first_complete", "starlette.middleware.wsgi")  # what MLflow 3.x's server uses


def serve(out: Path, host: str, port: int, uri: str) -> None:
    """The MLflow UI on the store at ``uri`` (checked by ``startup.check_ui_startup``) as a child process group
    that this command owns: Ctrl-C, SIGTERM or SIGHUP stop the server and every worker it started, and the port
    is free again when ``ganbench ui`` returns."""
    import subprocess

    # uvicorn at warnings: its INFO lines (one per request and per worker) would bury the links printed below
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
        "--uvicorn-opts",
        "--log-level warning",
    ]
    if (out / "mlartifacts").exists():
        cmd += ["--default-artifact-root", (out / "mlartifacts").resolve().as_uri()]
    base = f"http://{host}:{port}"

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    # the server and uvicorn's workers each print StarletteDeprecationWarnings (MLflow's use of deprecated Starlette
    # parts) that say nothing to the user: filtered by their messages (an environment filter cannot name the
    # category, whose module is not imported when Python starts), in the server and the workers it starts
    quiet = ",".join(f"ignore:{m} is deprecated:UserWarning" for m in STARLETTE_DEPRECATED)
    env = {**os.environ, "PYTHONWARNINGS": ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), quiet]))}
    server = subprocess.Popen(cmd, start_new_session=True, env=env)  # its own group: stopped as one below
    # a watcher that outlives this process: if it is killed (SIGKILL, which nothing here can catch), the
    # watcher stops the server's group, so no server is left holding the port
    watcher = subprocess.Popen(
        [sys.executable, "-c", _WATCHER, str(os.getpid()), str(server.pid)], start_new_session=True
    )
    code = 0
    try:
        if _answers(base, server):  # the links only once a browser can open them
            print(f"MLflow UI on {base} (Ctrl-C to stop)", file=sys.stderr)
            for name, url in experiment_links(uri, base):
                print(f"  {name}: {url}", file=sys.stderr)
        code = server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        _stop_group(server)
        watcher.kill()
        watcher.wait()
    if code:
        raise SystemExit(code)


SERVER_START_S = 300  # how long ganbench ui waits for the server's first answer (it imports MLflow's app first)


def _answers(base: str, server: Any) -> bool:
    """Wait until the server answers its health check; False when it exited first or never answered."""
    import time
    import urllib.error
    import urllib.request

    probe = base.replace("//0.0.0.0:", "//127.0.0.1:")
    deadline = time.monotonic() + SERVER_START_S
    while server.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(probe + "/health", timeout=2) as response:  # noqa: S310 - our own server
                response.read(16)
            return True
        except urllib.error.HTTPError:  # an error status is an answer too
            return True
        except OSError:
            time.sleep(0.5)
    return False


# run as ``python -c _WATCHER <ganbench ui's pid> <the server's process group>``
_WATCHER = """
import os, signal, sys, time
parent, group = int(sys.argv[1]), int(sys.argv[2])
def alive():
    try:
        os.killpg(group, 0)
    except OSError:
        return False
    return True
while alive() and os.getppid() == parent:
    time.sleep(0.5)
if alive():
    os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive():
        os.killpg(group, signal.SIGKILL)
"""


def experiment_links(uri: str, base: str) -> list[tuple[str, str]]:
    """Links that open each ganbench experiment in MLflow's model-training view (MLflow 3 opens an
    experiment in its GenAI view unless the URL or the browser's saved choice says otherwise)."""
    from ganbench.tracking import quiet_client

    try:
        experiments = quiet_client(uri).search_experiments(filter_string="name LIKE 'ganbench/%'")
    except Exception:  # the links are a convenience: the UI itself still starts
        return []
    return [
        (e.name, f"{base}/#/experiments/{e.experiment_id}/runs?workflowType=machine_learning")
        for e in sorted(experiments, key=lambda e: e.name)
    ]


def check_port_free(host: str, port: int) -> None:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is free
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InputError(f"cannot serve on {host}:{port}: {exc.strerror or exc}; pick another --port") from None


def _stop_group(process: Any, grace_s: float = 10.0) -> None:
    """SIGTERM the process group, wait up to ``grace_s`` for every member to exit, then SIGKILL the rest."""
    import subprocess
    import time

    def alive() -> bool:
        try:
            os.killpg(process.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    if alive():
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.1)  # reaps the leader so that it no longer counts as alive
        if not alive():
            return
    if alive():
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
