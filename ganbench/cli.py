"""``ganbench`` command line: run, tune, report, list, ui.

Bad input (unknown names, malformed YAML, impossible values, missing data, a store that cannot be opened)
exits with code 2 and one line naming what was wrong and what is valid.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

EXIT_BAD_INPUT = 2
LIST_KINDS = ("losses", "strategies", "datasets", "suites", "models")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        _fail(f"{message} (see ganbench {self.prog.split()[-1]} --help)" if " " in self.prog else message)


def _fail(message: str) -> NoReturn:
    print(f"ganbench: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return n


def _add_suite_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--suite", required=True, help="bundled suite name (see `ganbench list suites`) or a YAML path"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("ganbench_output"),
        help="output folder (stores, checkpoints, report)",
    )
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: sqlite file in the output folder)")
    p.add_argument(
        "--quick", action="store_true", help="the suite's quick settings: same path, a minute or less"
    )
    p.add_argument("--seeds", type=_positive, help="override the number of final seeds")


def _add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--optuna-storage", help="Optuna storage URL (default: sqlite file in the output folder)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--data-dir", type=Path, help="folder holding external datasets (mnist, cifar10, ...)")
    p.add_argument(
        "--download", action="store_true", help="download external datasets where a network exists"
    )
    p.add_argument("--inception-weights", type=Path,
                   help="InceptionV3 weights file (torch-fidelity's pt_inception-2015-12-05) for *_inception metrics")  # fmt: skip
    p.add_argument(
        "--population-size", type=_positive, default=16, help="runs trained as one vectorized model"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--executor", default="local", choices=["local", "processes", "ray"],
                   help="where populations train: this process, N worker processes, or a Ray cluster")  # fmt: skip
    p.add_argument(
        "--workers", type=_positive, default=2, help="worker processes (processes) or CPUs (local Ray)"
    )
    p.add_argument("--ray-address", help="Ray cluster address (default: start a local cluster)")
    p.add_argument(
        "--gpus-per-job", type=float, default=0.0, help="Ray: GPUs per population; fractions share a GPU"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ganbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="tune (when the suite says so), train all seeds, report")
    _add_suite_args(run)
    _add_train_args(run)
    tune = sub.add_parser("tune", help="only the equal-budget tuning phase")
    _add_suite_args(tune)
    _add_train_args(tune)
    report = sub.add_parser("report", help="rebuild the report from the MLflow store")
    _add_suite_args(report)
    ui = sub.add_parser(
        "ui", help="the MLflow UI on a suite's store (127.0.0.1 unless --host says otherwise)"
    )
    ui.add_argument(
        "--out", type=Path, default=Path("ganbench_output"), help="output folder holding mlflow.db"
    )
    ui.add_argument("--tracking-uri", help="MLflow store URI (default: the output folder's sqlite file)")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind; 0.0.0.0 exposes it to the network")
    ui.add_argument("--port", type=_positive, default=5000)
    lst = sub.add_parser("list", help="what is registered")
    lst.add_argument("kind", choices=LIST_KINDS)
    return parser


def _load(args: argparse.Namespace):
    from ganbench.suite import load_suite

    overrides = {"seeds": args.seeds} if args.seeds else None
    return load_suite(args.suite, quick=args.quick, overrides=overrides)


def _runner(args: argparse.Namespace, suite):
    from ganbench.datasets import DataOptions
    from ganbench.runner import Runner, RunOptions

    if args.device != "auto" and args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            _fail(f"--device {args.device}: no CUDA device here; valid: auto, cpu")
    options = RunOptions(
        out_dir=args.out,
        tracking_uri=args.tracking_uri,
        optuna_storage=args.optuna_storage,
        device=args.device,
        data=DataOptions(data_dir=args.data_dir, download=args.download, cache_dir=args.out / "cache"),
        population_size=args.population_size,
        show_progress=not args.no_progress,
        executor=args.executor,
        workers=args.workers,
        ray_address=args.ray_address,
        gpus_per_job=args.gpus_per_job,
    )
    if args.executor == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            _fail("--executor ray needs Ray: pip install 'ganbench[ray]'")
    if args.inception_weights is not None:
        if not args.inception_weights.is_file():
            _fail(f"--inception-weights: no file at {args.inception_weights}")
        # read by the image evaluator in this process and in every worker (workers inherit the environment)
        os.environ["GANBENCH_INCEPTION_WEIGHTS"] = str(args.inception_weights.resolve())
    if args.gpus_per_job < 0:
        _fail(f"--gpus-per-job must be >= 0, got {args.gpus_per_job}")
    return Runner(suite, options)


def cmd_run(args: argparse.Namespace) -> None:
    suite = _load(args)
    runner = _runner(args, suite)
    try:
        runner.run()
    finally:
        runner.close()
    _report(runner.store, runner.parent, args.out)


def cmd_tune(args: argparse.Namespace) -> None:
    suite = _load(args)
    if suite.tuning is None:
        _fail(f"suite {suite.name!r} has no 'tuning' section; add one (trials: N) to tune")
    from ganbench.tuning import tune_suite

    runner = _runner(args, suite)
    try:
        tune_suite(runner)
        runner.store.finish(runner.parent, "finished")
    finally:
        runner.close()


def cmd_report(args: argparse.Namespace) -> None:
    from ganbench.runner import check_writable
    from ganbench.tracking import MLflowStore, StoreError

    suite = _load(args)
    uri = _existing_store(args)
    check_writable(args.out)
    store = MLflowStore(uri, f"ganbench/{suite.name}")
    found = store.find_runs(
        f"tags.`ganbench.suite_key` = '{suite.key()}' and tags.`ganbench.phase` = 'suite'"
    )
    if not found:
        raise StoreError(f"the store {uri} holds no run of suite {suite.name!r} with these settings")
    _report(store, found[0].info.run_id, args.out)
    if suite.tuning is not None:
        from ganbench.tuning_report import write_tuning_report

        write_tuning_report(store, found[0].info.run_id, args.out / "report")


def _report(store, parent: str, out: Path) -> None:
    from ganbench.report import build_report
    from ganbench.terminal import print_summary

    print_summary(build_report(store, parent, out))


def _existing_store(args: argparse.Namespace) -> str:
    """The MLflow URI to read; a default SQLite file that is not there is bad input, not a new empty store."""
    from ganbench.tracking import StoreError, default_tracking_uri

    uri = args.tracking_uri or default_tracking_uri(args.out)
    path = uri.removeprefix("sqlite:///")
    if uri.startswith("sqlite:///") and not Path(path).exists():
        raise StoreError(
            f"no MLflow store at {path}; run a suite first (ganbench run) or pass --tracking-uri"
        )
    return uri


def cmd_list(args: argparse.Namespace) -> None:
    if args.kind == "losses":
        from ganbench.losses import LOSSES, PENALTIES

        names = LOSSES.names() + [f"<loss>+{p}" for p in PENALTIES]
    elif args.kind == "strategies":
        from ganbench.strategies import STRATEGIES

        names = STRATEGIES.names() + ["<strategy>+ema"]
    elif args.kind == "datasets":
        from ganbench.datasets import DATASETS

        names = DATASETS.names()
    elif args.kind == "models":
        from ganbench.models import MODELS

        names = MODELS.names()
    else:
        from ganbench.suite import bundled_suites

        names = bundled_suites()
    print("\n".join(names))


def cmd_ui(args: argparse.Namespace) -> None:

    uri = _existing_store(args)
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    if (args.out / "mlartifacts").exists():
        cmd += ["--default-artifact-root", (args.out / "mlartifacts").resolve().as_uri()]
    print(f"MLflow UI on http://{args.host}:{args.port} (Ctrl-C to stop)", file=sys.stderr)
    os.execv(sys.executable, cmd)


COMMANDS = {"run": cmd_run, "tune": cmd_tune, "report": cmd_report, "list": cmd_list, "ui": cmd_ui}


def _on_stop_signal(signum: int, frame: object) -> None:
    """First SIGINT/SIGTERM: finish the current step, checkpoint, mark runs KILLED. A second: stop at once."""
    from ganbench.train import STOP_REQUESTED

    if STOP_REQUESTED.is_set():
        raise KeyboardInterrupt
    STOP_REQUESTED.set()
    print("ganbench: stopping after the current step (again to stop at once)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _on_stop_signal)
    signal.signal(signal.SIGINT, _on_stop_signal)
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # mlflow probes git; absent git is not an error here
    from ganbench.datasets import DataError
    from ganbench.registry import RegistryError
    from ganbench.report import ReportError
    from ganbench.suite import SuiteError
    from ganbench.tracking import StoreError

    try:
        COMMANDS[args.command](args)
    except (SuiteError, RegistryError, DataError, StoreError, ReportError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        print("ganbench: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
