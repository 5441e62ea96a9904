"""Progress on long work: which run is going, how far the phase is, and its ETA (rich)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    """One bar per phase counted in member-steps; a line per job where the output is not a terminal."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self._bar: RichProgress | None = None
        self._task: int | None = None

    @contextmanager
    def phase(self, name: str, total: int) -> Iterator[None]:
        if not self.enabled or total <= 0:
            yield
            return
        self._bar = RichProgress(
            TextColumn("[bold]{task.fields[phase]}[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("steps"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._task = self._bar.add_task("", total=total, phase=name)
        try:
            with self._bar:
                yield
        finally:
            self._bar, self._task = None, None

    def advance(self, steps: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, steps)

    def describe(self, text: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=text)
            if not self.console.is_terminal:
                self.console.print(f"  {text}")

    def note(self, text: str) -> None:
        if self.enabled:
            self.console.print(text)
