"""One table of defaults: the command line, the API's signature and RunOptions read theirs from it; every command
goes through the API."""

from __future__ import annotations

import inspect

import pytest

from ganbench import api, cli
from ganbench.defaults import DEFAULT_WORKERS, DEFAULTS, OPTIONS
from ganbench.plan import RunOptions


def _cli_defaults(command: str) -> dict:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {a.dest: a.default for a in sub._actions if a.dest in OPTIONS}


def test_the_command_line_and_the_api_take_their_defaults_and_help_from_the_table():
    signature = inspect.signature(api.run_suite).parameters
    for name, option in OPTIONS.items():
        if name in signature:
            assert signature[name].default == option.default, name
    run = _cli_defaults("run")
    assert set(run) == set(OPTIONS) - {"host", "port"}
    assert all(run[k] == OPTIONS[k].default for k in run)
    assert _cli_defaults("ui") == {k: OPTIONS[k].default for k in ("out", "tracking_uri", "host", "port")}
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    flat = " ".join(help_text.split())
    assert "runs trained as one vectorized model (default: 16)" in flat
    # a flag states no default: "--no-progress ... (default: True)" read as if the bar were off
    assert "no progress bar (default" not in flat and "--no-progress no progress bar" in flat
    report = inspect.signature(api.report_suite).parameters
    assert report["out"].default == DEFAULTS.out and report["tracking_uri"].default == DEFAULTS.tracking_uri
    ui = inspect.signature(api.serve_ui).parameters
    assert {k: ui[k].default for k in ui} == {k: OPTIONS[k].default for k in ("out", "tracking_uri", "host", "port")}


def test_run_options_share_the_defaults_and_hold_a_resolved_executor():
    options = RunOptions()
    assert options.population_size == DEFAULTS.population_size and options.device == DEFAULTS.device
    assert options.out_dir == DEFAULTS.out and options.gpus_per_job == DEFAULTS.gpus_per_job
    assert options.executor != "auto" and options.workers == DEFAULT_WORKERS


def test_report_goes_through_the_api(monkeypatch, tmp_path):
    """``ganbench report`` parses its arguments and calls :func:`ganbench.report_suite`, as ``run`` calls
    :func:`ganbench.run_suite`."""
    seen = {}

    class Stop(Exception):
        pass

    def spy(suite, **options):
        seen.update(options, suite=suite)
        raise Stop

    monkeypatch.setattr(api, "report_suite", spy)
    with pytest.raises(Stop):
        cli.main(["report", "--suite", "smoke", "--out", str(tmp_path), "--seeds", "3"])
    assert seen["suite"] == "smoke" and seen["out"] == tmp_path and seen["seeds"] == 3


def test_tune_only_is_one_phase_decision(monkeypatch, tmp_path):
    """The API decides the phases once and hands them to the runner."""
    from ganbench import runner as runner_module

    asked = []
    monkeypatch.setattr(runner_module.Runner, "run", lambda self, phases: asked.append(phases))
    api.run_suite("smoke", quick=True, out=tmp_path / "a", tune_only=False, report=False, progress=False)
    with pytest.raises(api.GanbenchError, match="no 'tuning' section"):
        api.run_suite("smoke", quick=True, out=tmp_path / "b", tune_only=True, report=False, progress=False)
    api.run_suite("losses", quick=True, out=tmp_path / "c", tune_only=True, report=False, progress=False)
    api.run_suite("losses", quick=True, out=tmp_path / "d", report=False, progress=False)
    assert asked == [("final",), ("tune",), ("tune", "final")]  # smoke has no tuning section


def test_the_executor_choices_are_auto_and_the_registered_executors():
    from ganbench.defaults import EXECUTOR_CHOICES
    from ganbench.executors import EXECUTORS

    assert EXECUTOR_CHOICES[0] == "auto" and set(EXECUTOR_CHOICES[1:]) == set(EXECUTORS.names())
