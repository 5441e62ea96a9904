"""The command line end to end: real runs, the MLflow store they leave, reruns, and bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mlflow import MlflowClient

from ganbench.cli import main
from tests.conftest import GANBENCH, TINY_SUITE, env_for_subprocess, write_suite


def _client(out):
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    return client, client.get_experiment_by_name("ganbench/tiny").experiment_id


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One real run of a tiny suite, shared by the tests that read what it left."""
    base = tmp_path_factory.mktemp("cli")
    suite = write_suite(base / "tiny.yaml", TINY_SUITE)
    out = base / "out"
    assert main(["run", "--suite", str(suite), "--out", str(out), "--no-progress"]) == 0
    return suite, out


def test_run_leaves_parent_and_child_runs_with_curves_in_mlflow(tiny_run):
    _, out = tiny_run
    client, exp = _client(out)
    runs = client.search_runs([exp])
    parents = [r for r in runs if r.data.tags.get("ganbench.phase") == "suite"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == 4  # 2 losses x 1 strategy x 1 dataset x 2 seeds
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["ganbench.status"] == "finished"
        assert child.data.params["loss"] in {"non_saturating", "hinge"}
        assert child.data.params["model.width"] == "16"
        assert child.data.params["data.means"] == "unit circle, 8 evenly spaced"  # the dataset's protocol
        curve = client.get_metric_history(child.info.run_id, "fid_raw")
        assert sorted(m.step for m in curve) == [10, 20, 30]
        assert [a.path for a in client.list_artifacts(child.info.run_id, "samples")] == ["samples/step_0000030.png"]


def test_the_suite_run_records_what_ran(tiny_run):
    """The parent run carries the suite's settings, the suite as it ran (which loads back to the same suite),
    the ganbench version and the git commit; child runs are named in full, with dataset and seed."""
    import yaml

    from ganbench import __version__
    from ganbench.suite import load_suite
    from tests.conftest import ROOT

    _, out = tiny_run
    client, exp = _client(out)
    runs = client.search_runs([exp])
    parent = next(r for r in runs if r.data.tags.get("ganbench.phase") == "suite")
    params, tags = parent.data.params, parent.data.tags
    assert {k: params[k] for k in ("suite", "steps", "batch_size", "seeds", "models.points.width")} == {
        "suite": "tiny",
        "steps": "30",
        "batch_size": "32",
        "seeds": "[0, 1]",
        "models.points.width": "16",
    }
    assert tags["ganbench.version"] == __version__
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0 and (ROOT / ".git").exists():
        assert tags["mlflow.source.git.commit"] == head.stdout.strip()
        assert tags["ganbench.git_commit"].removesuffix("-dirty") == head.stdout.strip()
    local = client.download_artifacts(parent.info.run_id, "suite.yaml", str(out / "downloaded"))
    assert yaml.safe_load(Path(local).read_text())["steps"] == 30
    assert load_suite(local).key() == params["suite_key"]
    names = sorted(r.info.run_name for r in runs if r.data.tags.get("ganbench.phase") == "final")
    assert names == [f"{loss}|adam_dcgan|ring8 seed={s}" for loss in ("hinge", "non_saturating") for s in (0, 1)]


def test_run_writes_the_report(tiny_run):
    _, out = tiny_run
    md = (out / "report" / "summary.md").read_text()
    assert "hinge" in md and "non_saturating" in md and "±" in md
    rows = (out / "report" / "summary.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header[:4] == ["dataset", "loss", "strategy", "metric"]
    assert {"replicates", "p_best", "equivalent_to_best", "compute_per_run", "n", "mean", "ci_low"} <= set(header)
    assert sum(r.startswith("ring8,hinge,adam_dcgan,fid_raw,1,2,") for r in rows) == 1  # 1 replicate, 2 seeds
    assert (out / "report" / "report.html").stat().st_size > 0


def test_rerun_trains_nothing_and_duplicates_no_run(tiny_run):
    suite, out = tiny_run
    client, exp = _client(out)
    before = {
        r.info.run_id: len(client.get_metric_history(r.info.run_id, "fid_raw")) for r in client.search_runs([exp])
    }
    ckpts = {p: p.stat().st_mtime_ns for p in (out / "checkpoints").glob("*.pt")}
    assert len(ckpts) == 4
    assert main(["run", "--suite", str(suite), "--out", str(out), "--no-progress"]) == 0
    after = {r.info.run_id: len(client.get_metric_history(r.info.run_id, "fid_raw")) for r in client.search_runs([exp])}
    assert after == before
    assert {p: p.stat().st_mtime_ns for p in (out / "checkpoints").glob("*.pt")} == ckpts


def test_list_commands(capsys):
    main(["list", "losses"])
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(lines) == {
        "minimax",
        "non_saturating",
        "lsgan",
        "wgan",
        "wgan_gp",
        "hinge",
        "feature_matching",
        "dragan",
        "relativistic",
        "r1",
        "<loss>+r1",
    }
    # what each is and its paper, read from its docstring, and its parameters with their defaults
    assert lines["minimax"] == "minimax           Saturating minimax GAN (Goodfellow et al. 2014)"
    assert lines["lsgan"].endswith("Least-squares GAN (Mao et al. 2017); params a=0.0, b=1.0, c=1.0")
    assert lines["r1"].endswith("as in Mescheder et al. 2018; params gamma=10.0")
    assert lines["<loss>+r1"].endswith("any loss with the R1 (Mescheder et al. 2018) penalty added")
    main(["list", "suites"])
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(lines) == {"images", "images_cpu", "losses", "smoke", "strategies"}
    assert lines["smoke"] == "smoke       Two losses on ring8, two seeds, 40 steps."
    main(["list", "datasets"])
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["ring8"].split()[1] == "points" and "8 Gaussians" in lines["ring8"]
    assert lines["digits"].split()[1] == "image" and "1,797 images" in lines["digits"]
    assert "<data_dir>/MNIST/raw" in lines["mnist"] and "``" not in lines["mnist"]  # no reST markup
    main(["list", "strategies"])
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["tied"].endswith("tunes lr") and lines["ttur"].endswith("tunes lr_g, lr_d")
    assert "what the suite's tuning lists" in lines["adam_dcgan"] and "<strategy>+ema" in lines
    main(["list", "models"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["dcgan", "image_mlp", "mlp"]
    assert lines[0].split(None, 1)[1].startswith("DCGAN pair (Radford et al. 2016)")


def test_version_and_help(capsys):
    from ganbench import __version__

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out == f"ganbench {__version__}\n"
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":class:" not in text and "Fair, multi-seed" in text
    with pytest.raises(SystemExit):
        main(["ui", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--port PORT port to serve on (default: 5000)" in text
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "runs trained as one vectorized model (default: 16)" in text
    assert "--download download external datasets where a network exists --inception" in text  # no default


def _run(args, cwd):
    return subprocess.run(
        GANBENCH + args, capture_output=True, text=True, cwd=cwd, env=env_for_subprocess(), timeout=120
    )


BAD_SUITES = {
    "unknown_loss": (TINY_SUITE.replace("hinge", "hnge"), "unknown loss 'hnge'; valid:"),
    "malformed": ("name: x\nlosses: [hinge\n", "malformed YAML"),
    "negative_lr": (TINY_SUITE + "lr_g: -0.001\n", "key 'lr_g': Input should be greater than 0"),
    "zero_seeds": (TINY_SUITE.replace("seeds: 2", "seeds: 0"), "key 'seeds': Input should be greater than 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_SUITES))
def test_bad_suite_exits_2_with_one_line(tmp_path, case):
    text, message = BAD_SUITES[case]
    suite = write_suite(tmp_path / f"{case}.yaml", text)
    proc = _run(["run", "--suite", str(suite), "--out", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ganbench: error: ") and message in lines[0]
    assert not (tmp_path / "out" / "mlflow.db").exists()  # nothing half-written


def test_unknown_suite_and_zero_seed_flag_and_unwritable_output(tmp_path):
    proc = _run(["run", "--suite", "nosuch", "--out", str(tmp_path / "o")], tmp_path)
    assert proc.returncode == 2 and "unknown suite 'nosuch'; valid:" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = _run(["run", "--suite", "smoke", "--seeds", "0", "--out", str(tmp_path / "o")], tmp_path)
    assert proc.returncode == 2 and "--seeds: expected a positive integer, got '0'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = _run(["run", "--suite", "smoke", "--out", str(blocker / "out")], tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"ganbench: error: output folder {blocker / 'out'} is not writable (Not a directory)"


def test_report_without_a_store_exits_2(tmp_path):
    proc = _run(["report", "--suite", "smoke", "--out", str(tmp_path / "none")], tmp_path)
    assert proc.returncode == 2
    assert "no MLflow store at" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_ui_serves_the_store_on_loopback(tiny_run, tmp_path):
    """`ganbench ui` starts the real MLflow UI on the run's store, bound to 127.0.0.1, and it lists the runs; it
    prints its links once the server answers."""
    import json
    import socket
    import time
    import urllib.request

    _, out = tiny_run
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "ui.err"
    with open(log, "w") as err_file:
        proc = subprocess.Popen(
            GANBENCH + ["ui", "--out", str(out), "--port", str(port)],
            env=env_for_subprocess(),
            stdout=subprocess.DEVNULL,
            stderr=err_file,
        )
    try:
        url = f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/search"
        body = None
        deadline = time.monotonic() + 90
        while body is None and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                req = urllib.request.Request(
                    url, data=b'{"max_results": 10}', headers={"Content-Type": "application/json"}
                )
                body = json.loads(urllib.request.urlopen(req, timeout=5).read())
            except OSError:
                time.sleep(0.5)
        assert body is not None, "the UI did not answer"
        experiments = {e["name"]: e["experiment_id"] for e in body["experiments"]}
        assert "ganbench/tiny" in experiments
        listening = Path("/proc/net/tcp").read_text().lower()
        assert f"0100007f:{port:04x}" in listening  # 127.0.0.1, not 0.0.0.0
        assert f"00000000:{port:04x}" not in listening
        started = _descendants(proc.pid)
        assert started, "the UI server runs as a child of ganbench ui"
        deadline = time.monotonic() + 60  # the links follow its own check that the server answers
        while "workflowType" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # it prints a link that opens the experiment in the model-training view, not MLflow 3's GenAI view
    link = f"http://127.0.0.1:{port}/#/experiments/{experiments['ganbench/tiny']}/runs?workflowType=machine_learning"
    err = log.read_text()
    assert link in err
    assert "GET /" not in err  # uvicorn's access lines stay out (its log level is warning)
    assert "DeprecationWarning" not in err  # uvicorn's workers' Starlette warning is filtered
    # SIGTERM to `ganbench ui` stops the server and every worker it started, and frees the port
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in started if _alive(pid)], "processes left behind"
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is free; a listener is not
        s.bind(("127.0.0.1", port))


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc: parent ids)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier]
        found += kids
        frontier = kids
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--inception-weights", "/no/such/file.pth"], "--inception-weights: no file at /no/such/file.pth"),
        (["--device", "cuda:0"], "--device cuda:0: no CUDA device here; valid: auto, cpu"),
        (["--executor", "slurm"], "argument --executor: invalid choice: 'slurm'"),
        (["--gpus-per-job", "-1"], "--gpus-per-job must be >= 0"),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, args, message):
    import torch

    if "cuda:0" in args and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SystemExit) as exc:
        main(["run", "--suite", "smoke", "--out", str(tmp_path / "o"), *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------------- a redirected log
STAMPED = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "


@pytest.mark.slow
def test_a_redirected_run_writes_a_short_time_stamped_log(tmp_path):
    """`ganbench run ... > log 2>&1`: progress and notes as time-stamped lines (no bar, no line per job, nothing
    wrapped), then the summary; fewer than 100 lines, none over 200 characters, and no MLflow chatter."""
    import re

    suite = write_suite(tmp_path / "tiny.yaml", TINY_SUITE + "tuning: {trials: 2, batch: 1, steps: 20}\n")
    log = tmp_path / "log"
    with log.open("w") as f:
        proc = subprocess.run(
            GANBENCH + ["run", "--suite", str(suite), "--out", str(tmp_path / "out")],
            stdout=f,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=env_for_subprocess(),
            timeout=300,
        )
    lines = log.read_text().splitlines()
    assert proc.returncode == 0, lines
    assert len(lines) < 100 and max(len(line) for line in lines) <= 200
    stamped = [bool(re.match(STAMPED, line)) for line in lines]
    first_unstamped = stamped.index(False)
    assert all(stamped[:first_unstamped]) and not any(stamped[first_unstamped:])  # the log, then the summary
    log_lines = [line[20:] for line in lines[:first_unstamped]]
    assert len(set(log_lines)) == len(log_lines)  # no line repeated
    assert sum(line.startswith("tuned ") for line in log_lines) == 2  # one per contender
    # 2 contenders x 2 trials x 20 steps; the ETA reads -:--:-- until the first seconds gave a rate
    done = r"tune done: 80/80 steps \(100%\) in \d:\d\d:\d\d; suite ETA (\d:\d\d:\d\d|-:--:--)"
    assert sum(bool(re.fullmatch(done, line)) for line in log_lines) == 1
    assert log_lines[-1].startswith("final done: 120/120 steps (100%) in ")  # 2 contenders x 2 seeds x 30
    assert lines[first_unstamped].startswith("ring8: w1_raw")
    verdict = [line for line in lines if line.startswith("- ")]
    # the verdict closes the summary: the ranking, then (one replicate) the note that tuning variance is unmeasured
    assert verdict[-2].startswith("- Ranking ") and verdict[-1].startswith("- The tuning's variance is unmeasured")
    assert not any("INFO" in line or "Warning" in line for line in lines)
