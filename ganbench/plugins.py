"""Plugins: a researcher's own loss, strategy or dataset in a plain Python file (or an importable module).

A suite names them with ``plugins: [my_loss.py]`` (paths relative to the suite file) and the command line with
``--plugin PATH`` (repeatable). The file registers with the public decorators::

    from ganbench import LossTerms, register_loss

    @register_loss("my_loss")
    def my_loss(d_real, d_fake):
        ...

Every plugin this process loaded travels with each job (its source text, not its path), so worker processes and
Ray workers on other machines register the same things before they train. Loading a file again (a notebook cell
run twice, the Python API called twice) replaces what it registered before.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ganbench.errors import GanbenchError


class PluginError(GanbenchError, ValueError):
    """A plugin that cannot be loaded; the message is one line naming the file and what went wrong."""


@dataclass(frozen=True)
class PluginSource:
    """What a worker needs to load a plugin: a file's text under a fixed module name, or a module to import."""

    label: str  # the path or module name as given, for messages
    module: str  # the module name it is loaded under
    code: str | None = None  # a file's source; None: ``module`` is importable where the job runs


_LOADED: dict[str, PluginSource] = {}  # module name -> source, in load order


def loaded() -> tuple[PluginSource, ...]:
    """Every plugin loaded in this process, in load order (what a job carries to its worker)."""
    return tuple(_LOADED.values())


def is_file_spec(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def load_plugins(specs: list[str] | tuple[str, ...], base_dir: Path | None = None) -> list[PluginSource]:
    """Load plugin files (``.py`` paths, relative to ``base_dir``) or modules; raises :class:`PluginError`."""
    return [load_plugin(spec, base_dir) for spec in specs]


def load_plugin(spec: str, base_dir: Path | None = None) -> PluginSource:
    if not isinstance(spec, str) or not spec.strip():
        raise PluginError(f"plugin {spec!r}: expected a path to a .py file or a module name")
    if not is_file_spec(spec):
        return _load_module(spec)
    path = Path(spec).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    path = path.resolve()
    if not path.is_file():
        raise PluginError(f"plugin file {path} does not exist")
    try:
        code = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginError(f"plugin file {path}: cannot be read ({exc})") from None
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    name = f"ganbench_plugins.{_identifier(path.stem)}_{digest}"
    source = PluginSource(label=str(path), module=name, code=code)
    ensure(source)
    return source


def ensure(source: PluginSource) -> None:
    """Load ``source`` in this process unless the same text is already loaded (workers call this per job)."""
    known = _LOADED.get(source.module)
    if known is not None and known.code == source.code and source.module in sys.modules:
        return
    if source.code is None:
        _load_module(source.label)
        return
    _exec_file(source)
    _LOADED.pop(source.module, None)
    _LOADED[source.module] = source


def ensure_all(sources: tuple[PluginSource, ...] | list[PluginSource]) -> None:
    for source in sources:
        ensure(source)


def _load_module(name: str) -> PluginSource:
    source = PluginSource(label=name, module=name)
    try:
        if name in sys.modules and name in _LOADED:
            importlib.reload(sys.modules[name])
        else:
            importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise PluginError(
                f"plugin module {name!r} cannot be imported (no module named {exc.name!r}); "
                "give a path to a .py file or install the module"
            ) from None
        raise PluginError(f"plugin module {name!r}: import failed: {_one_line(exc)}") from None
    except PluginError:
        raise
    except Exception as exc:  # whatever the plugin's own code raises
        raise PluginError(f"plugin module {name!r}: import failed: {_one_line(exc)}") from None
    _LOADED.pop(name, None)
    _LOADED[name] = source
    return source


def _exec_file(source: PluginSource) -> ModuleType:
    package = sys.modules.setdefault("ganbench_plugins", ModuleType("ganbench_plugins"))
    package.__path__ = []  # type: ignore[attr-defined]  # a namespace for plugin modules, nothing to import
    module = ModuleType(source.module)
    module.__file__ = source.label
    previous = sys.modules.get(source.module)
    sys.modules[source.module] = module  # dataclasses and pickling look the module up while it runs
    try:
        code = compile(source.code or "", source.label, "exec")
        exec(code, module.__dict__)  # noqa: S102 - running the user's own plugin file is the point
    except PluginError:
        _restore(source.module, previous)
        raise
    except SyntaxError as exc:
        _restore(source.module, previous)
        raise PluginError(f"plugin file {source.label}: syntax error at line {exc.lineno}: {exc.msg}") from None
    except BaseException as exc:  # noqa: BLE001 - SystemExit from a plugin is an error too
        _restore(source.module, previous)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise PluginError(f"plugin file {source.label}: raised on import: {_one_line(exc)}") from None
    return module


def _restore(name: str, previous: ModuleType | None) -> None:
    if previous is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = previous


def _identifier(stem: str) -> str:
    ident = "".join(c if c.isalnum() or c == "_" else "_" for c in stem)
    return ident if ident and not ident[0].isdigit() else f"p_{ident}"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
