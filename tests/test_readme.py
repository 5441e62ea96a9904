"""The README names only what exists: every ``ganbench`` command and option it shows is one the CLI has, every
suite key in its YAML examples is one the suite schema accepts (the full example validates), and every
``ganbench.*`` name (a tag, an entry point group, an API name) is in the code."""

from __future__ import annotations

import argparse
import ast
import importlib
import re
from pathlib import Path

import yaml

from ganbench.cli import build_parser
from ganbench.suite import LossEntry, ModelSpec, Suite, TuningSpec, load_suite

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
FENCED = re.compile(r"```(\w*)\n(.*?)```", re.S)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in FENCED.findall(README) if lang == language]


def _spans() -> list[str]:
    """Inline code spans outside fenced blocks, with a table's escaped pipes unescaped."""
    text = FENCED.sub("", README)
    return [span.replace("\\|", "|") for span in re.findall(r"`([^`\n]+)`", text)]


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, dict(sub.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def _command_lines() -> list[str]:
    """Every shell line and inline span that runs ganbench."""
    lines = [line for body in _blocks("bash") for line in body.splitlines()]
    return [line.strip() for line in lines + _spans() if re.match(r"\s*(\S*/)?ganbench\s+\S", line)]


def test_the_commands_and_options_the_readme_shows_exist() -> None:
    top, commands = _parsers()
    checked = 0
    for line in _command_lines():
        words = line[re.match(r"(\S*/)?ganbench\s", line).end() :].split()
        if words[0].startswith("-"):  # ganbench --version
            assert words[0] in _options(top), line
            continue
        if words[0].isupper():  # ganbench COMMAND --help: a placeholder
            continue
        for name in words[0].split("|"):
            assert name in commands, f"{line}: no command {name!r}; the CLI has {sorted(commands)}"
            for flag in (w.split("=")[0] for w in words[1:] if w.startswith("--")):
                assert flag in _options(commands[name]), f"{line}: ganbench {name} has no option {flag}"
            checked += 1
    assert checked >= 10  # the README shows run, tune, report, list and ui


def test_options_named_on_their_own_exist() -> None:
    _, commands = _parsers()
    known = set().union(*(_options(p) for p in commands.values())) | {"--version", "--help"}
    named = [span.split()[0] for span in _spans() if span.startswith("--")]
    assert "--quick" in named and "--population-size" in named
    assert sorted(set(named) - known) == []


def test_the_suite_examples_use_only_keys_the_schema_accepts() -> None:
    suites = [yaml.safe_load(body) for body in _blocks("yaml")]
    suites = [s for s in suites if isinstance(s, dict) and "losses" in s]
    assert len(suites) >= 2

    def check(keys: object, model: type, where: str) -> None:
        unknown = sorted(set(keys) - set(model.model_fields))  # type: ignore[arg-type]
        assert unknown == [], f"{where}: {unknown} are not keys of {model.__name__}"

    for suite in suites:
        check(suite, Suite, suite["name"])
        check(suite.get("tuning") or {}, TuningSpec, f"{suite['name']}: tuning")
        for kind, spec in (suite.get("models") or {}).items():
            check(spec, ModelSpec, f"{suite['name']}: models.{kind}")
        for loss in suite["losses"]:
            if isinstance(loss, dict):
                check(loss, LossEntry, f"{suite['name']}: losses")
    full = next(s for s in suites if "tuning" in s and not s.get("plugins"))
    assert load_suite(full).tuning is not None  # the full example is a valid suite, names and values included


def _string_constants() -> set[str]:
    """Every string literal in the package, and the validity tags it builds from one and a kind."""
    from ganbench.report.validity import KINDS, TAG_VALIDITY

    constants = {f"{TAG_VALIDITY}.{kind}" for kind in KINDS}
    for path in (ROOT / "ganbench").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                constants.add(node.value)
    return constants


def _exists_in_code(name: str, constants: set[str]) -> bool:
    """A module or attribute path (``ganbench.run_suite``), or a string the code holds (a tag's name)."""
    if name in constants:
        return True
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def test_the_ganbench_names_the_readme_gives_exist() -> None:
    """Tags (``ganbench.report.validity.<kind>``: the part before a placeholder), the entry point group and
    the API names: the README once named the validity tags ``ganbench.validity``, which no code writes."""
    constants = _string_constants()
    names = {span for span in _spans() if re.fullmatch(r"ganbench(\.[\w<>]+)+", span)}
    assert {"ganbench.report.validity", "ganbench.key", "ganbench.version"} <= names
    for name in sorted(names):
        stem = name.split(".<")[0]
        assert _exists_in_code(stem, constants), f"README names {name!r}, which the code does not have"
