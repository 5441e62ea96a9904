"""One generic name -> object registry; ``LOSSES``, ``STRATEGIES``, ``MODELS`` and ``DATASETS`` are instances."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from ganbench.errors import GanbenchError

T = TypeVar("T")


class RegistryError(GanbenchError, KeyError):
    """An unknown or duplicate name. ``str()`` is one line naming the valid choices."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """Objects registered under unique names; ``kind`` names what they are in error messages."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._origins: dict[str, str | None] = {}  # name -> the module that registered it

    def add(self, name: str, obj: T, origin: str | None = None) -> T:
        """Register ``obj``. The same module registering a name again replaces its entry (a notebook cell or a
        plugin file run twice); any other duplicate is an error."""
        if not isinstance(name, str) or not name or "|" in name or "+" in name:
            raise RegistryError(f"{self.kind} name {name!r} must be a non-empty string without '|' or '+'")
        if name in self._entries:
            before = self._origins.get(name)
            if origin is None or before != origin or is_bundled(origin):
                where = f" (by {before})" if before else ""
                raise RegistryError(f"{self.kind} {name!r} is already registered{where}; pick another name")
        self._entries[name] = obj
        self._origins[name] = origin
        return obj

    def register(self, name: str | None = None, origin: str | None = None) -> Callable[[T], T]:
        """Decorator: ``@REG.register()`` uses the object's ``__name__``."""

        def decorator(obj: T) -> T:
            return self.add(name or obj.__name__, obj, origin or getattr(obj, "__module__", None))  # type: ignore[attr-defined]

        return decorator

    def origin(self, name: str) -> str | None:
        """The module that registered ``name`` (``ganbench.*`` for bundled entries)."""
        return self._origins.get(name)

    def is_plugin(self, name: str) -> bool:
        """Registered by code outside ganbench: a plugin file, an entry point, a script or a notebook."""
        origin = self._origins.get(name)
        return name in self._entries and origin is not None and not is_bundled(origin)

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(f"unknown {self.kind} {name!r}; valid: {', '.join(sorted(self._entries))}") from None

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


def is_bundled(origin: str | None) -> bool:
    return origin is not None and (origin == "ganbench" or origin.startswith("ganbench."))


def caller_module(depth: int = 2) -> str | None:
    """The ``__name__`` of the module ``depth`` frames up (who called a public register function)."""
    import sys

    try:
        return sys._getframe(depth).f_globals.get("__name__")
    except ValueError:
        return None


def load_entry_points(group: str) -> list[str]:
    """Import the plugins installed under an entry-point ``group`` (e.g. ``ganbench.losses``).

    Third-party losses, strategies and datasets come in this way: a package declares
    ``[project.entry-points."ganbench.losses"] mine = "my_pkg.losses"`` and its module registers itself with the
    usual decorator when imported. Suites only ever name registered entries, never Python objects.
    """
    loaded = []
    for ep in entry_points(group=group):
        ep.load()
        loaded.append(ep.name)
    return loaded
