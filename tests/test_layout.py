"""The package layout: no import cycle among ganbench's modules, imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ganbench"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the ganbench modules it imports anywhere in its text (top level, functions, TYPE_CHECKING)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                targets.add(base)
                targets.update(f"{base}.{a.name}" for a in node.names)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_check_sees_a_cycle_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    # and the graph of the real package holds function-level imports: api imports the report inside a function
    assert "ganbench.report" in import_graph()["ganbench.api"]


LINE_LIMIT = 310  # "about 300"
# modules that are one concept and read best whole (ARCHITECTURE.md says why)
WHOLE = {
    "ganbench/train.py": "the population trainer: one class whose steps, evaluation, divergence checks and "
    "checkpoints share the stacked state",
    "ganbench/suite.py": "the suite schema: one tree of pydantic models and the one-line errors it produces",
    "ganbench/losses.py": "the loss contract and the bundled losses, each under its registration, read side by side",
}


def test_no_module_is_much_over_300_lines_unless_it_reads_best_whole():
    root = PACKAGE.parent
    long = {str(p.relative_to(root)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    over = {path: n for path, n in long.items() if n > LINE_LIMIT and path not in WHOLE}
    assert over == {}
    assert all(long[path] > 300 for path in WHOLE)  # an exception that is no longer needed is removed


def _ruff() -> Path | None:
    import shutil
    import sys

    found = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return Path(found) if Path(found).exists() else None


def test_the_code_is_formatted_by_ruff_and_passes_its_lint_with_skips_rare():
    """``ruff format`` (line length 120, pyproject.toml) leaves every file as it is, ``ruff check`` finds
    nothing, and ``# fmt: skip`` is the exception it should be."""
    import subprocess

    import pytest

    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    folders = ["ganbench", "tests", "benchmarks"]
    for args in (["format", "--check"], ["check"]):
        proc = subprocess.run([str(ruff), *args, *folders], cwd=PACKAGE.parent, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    skips = sum(p.read_text().count("# fmt: skip") for f in folders for p in (PACKAGE.parent / f).rglob("*.py"))
    assert skips <= 10
