"""The ganbench command line: run, tune, report, list, ui.

Bad input (unknown names, malformed YAML, impossible values, missing data, a store that cannot be opened)
exits with code 2 and one line naming what was wrong and what is valid.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from ganbench.defaults import OPTIONS
from ganbench.listing import LIST_KINDS, LISTERS

# the options of `run` and `tune` that go to the API as they are (the suite's own options aside)
TRAIN_OPTIONS = (
    "optuna_storage",
    "device",
    "data_dir",
    "download",
    "inception_weights",
    "population_size",
    "progress",
    "executor",
    "workers",
    "ray_address",
    "gpus_per_job",
)

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        _fail(f"{message} (see ganbench {self.prog.split()[-1]} --help)" if " " in self.prog else message)


class _Help(argparse.HelpFormatter):
    """argparse's help with each option's default, where it has one worth saying (not None, False, a list, or
    a flag's: ``--no-progress`` would read "(default: True)")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        flag = action.nargs == 0  # store_true / store_false / help
        if flag or "%(default)" in text or default is None or default is False or default == argparse.SUPPRESS:
            return text
        return f"{text} (default: %(default)s)"


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


def _option(p: argparse.ArgumentParser, flag: str, **kwargs: Any) -> None:
    """An option whose default and help come from the one table of defaults (``ganbench.defaults``)."""
    name = flag.removeprefix("--").replace("-", "_")
    spec = OPTIONS[name]
    kwargs.setdefault("default", spec.default)
    if spec.choices:
        kwargs.setdefault("choices", spec.choices)
    p.add_argument(flag, help=spec.help, **kwargs)


def _add_suite_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", required=True, help="a bundled suite's name (see: ganbench list suites) or a YAML file")
    _option(p, "--out", type=Path)
    _option(p, "--tracking-uri")
    p.add_argument("--quick", action="store_true", help="the suite's quick settings: same path, a minute or less")
    p.add_argument("--seeds", type=_positive, help="override the number of final seeds (per replicate)")
    p.add_argument(
        "--replicates",
        type=_positive,
        help="override the number of replicates: the whole tune-then-train pipeline repeated with its "
        "own seeds, so the verdict includes the tuning's variance",
    )
    _add_plugin_arg(p)


def _add_plugin_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plugin",
        action="append",
        metavar="PATH",
        help="a .py file (or module) registering losses, strategies or datasets; repeatable",
    )


def _add_train_args(p: argparse.ArgumentParser) -> None:
    _option(p, "--optuna-storage")
    _option(p, "--device")
    _option(p, "--data-dir", type=Path)
    _option(p, "--download", action="store_true")
    _option(p, "--inception-weights", type=Path)
    _option(p, "--population-size", type=_positive)
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    _option(p, "--executor")
    _option(p, "--workers", type=_positive)
    _option(p, "--ray-address")
    _option(p, "--gpus-per-job", type=float)


DESCRIPTION = "Fair, multi-seed, equally tuned comparisons of GAN losses and optimizer strategies."


def build_parser() -> argparse.ArgumentParser:
    from ganbench import __version__

    parser = _Parser(
        prog="ganbench",
        description=DESCRIPTION,
        formatter_class=_Help,
        epilog="ganbench COMMAND --help shows a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"ganbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".", formatter_class=_Help)

    run = command("run", "tune (when the suite says so), train every seed, write the report")
    _add_suite_args(run)
    _add_train_args(run)
    tune = command("tune", "only the equal-budget tuning phase")
    _add_suite_args(tune)
    _add_train_args(tune)
    report = command("report", "rebuild the report from the MLflow store")
    _add_suite_args(report)
    ui = command("ui", "the MLflow UI on a suite's store (127.0.0.1 unless --host says otherwise)")
    _option(ui, "--out", type=Path)
    _option(ui, "--tracking-uri")
    _option(ui, "--host")
    _option(ui, "--port", type=_positive)
    lst = command("list", "what is registered, one line each (a loss with its paper, a suite with its description)")
    lst.add_argument("kind", choices=LIST_KINDS, help=" | ".join(LIST_KINDS))
    _add_plugin_arg(lst)
    return parser


def _suite_options(args: argparse.Namespace) -> dict:
    return dict(
        out=args.out,
        quick=args.quick,
        seeds=args.seeds,
        replicates=args.replicates,
        plugins=args.plugin or (),
        tracking_uri=args.tracking_uri,
    )


def _api_options(args: argparse.Namespace) -> dict:
    """The API's arguments from the parsed command line: every option of the table is passed through by name."""
    return {**_suite_options(args), **{k: getattr(args, k) for k in TRAIN_OPTIONS}}


def cmd_run(args: argparse.Namespace) -> None:
    from ganbench.api import run_suite
    from ganbench.report.terminal import print_summary

    result = run_suite(args.suite, **_api_options(args))
    print_summary(result.report)
    if result.failed_all:  # a table of nothing is no result: say so, and let scripts see it
        print(
            "ganbench: verdict: FAILED, no result: every run of the suite failed (the report names each "
            "run's first error)",
            file=sys.stderr,
        )
        raise SystemExit(1)


def cmd_tune(args: argparse.Namespace) -> None:
    from ganbench.api import run_suite

    run_suite(args.suite, tune_only=True, **_api_options(args))


def cmd_report(args: argparse.Namespace) -> None:
    from ganbench.api import report_suite
    from ganbench.report.terminal import print_summary

    print_summary(report_suite(args.suite, **_suite_options(args)).report)


def cmd_list(args: argparse.Namespace) -> None:
    from ganbench.plugins import load_plugins

    load_plugins([str(p) for p in args.plugin or ()], Path.cwd())
    print("\n".join(LISTERS[args.kind]()))


def cmd_ui(args: argparse.Namespace) -> None:
    from ganbench.api import serve_ui

    serve_ui(out=args.out, tracking_uri=args.tracking_uri, host=args.host, port=args.port)


COMMANDS = {"run": cmd_run, "tune": cmd_tune, "report": cmd_report, "list": cmd_list, "ui": cmd_ui}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # mlflow probes git; absent git is not an error here
    from ganbench.errors import GanbenchError

    try:
        COMMANDS[args.command](args)
    except GanbenchError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        from ganbench.signals import exit_on_stop_signal

        print("ganbench: interrupted; rerun the same command to resume", file=sys.stderr, flush=True)
        if argv is None:  # the program (not a caller in Python): a further Ctrl-C while it exits, no traceback
            exit_on_stop_signal(130)
        return 130
    except BrokenPipeError:  # `ganbench list losses | head`: the reader left; Python's own advice follows
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:  # a full disk anywhere else (the report, an artifact): one line, not a traceback
        from ganbench.errors import disk_full, is_disk_full

        if not is_disk_full(exc):
            raise
        _fail(str(disk_full(exc.filename or getattr(args, "out", "the output folder"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
