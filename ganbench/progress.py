"""Progress of a suite run, counted in member-steps: a bar per phase on a terminal, time-stamped lines in a log.

The ETA is the whole suite's: the steps left in this phase and in the phases still to come (``expect``), at the
suite's average rate so far. An average over the whole run moves slowly, so the ETA does not jump when one
population trains faster than the last (rich's own remaining-time column averages the last 30 s of one phase,
which is why it jumped between populations of different sizes).

Where the output is not a terminal (a file, a pipe, a CI log) no bar is drawn. A line with the time, the phase,
the steps done of its total, the percentage and the suite's ETA is written about every ``LOG_EVERY`` seconds
and at each phase's end; notes are time-stamped lines too. No line is wrapped (rich wraps at 80 columns when
the output is not a terminal) or longer than ``MAX_LINE`` characters, so a log can be grepped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import BarColumn, ProgressColumn, Task, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

LOG_EVERY = 30.0  # seconds between two progress lines in a log
MAX_LINE = 200  # characters, time stamp included
ETA_AFTER = 5.0  # seconds of progress before an ETA is shown: the first steps include start-up
BAR_WIDTH = 20  # the bar row fits 80 columns with the longest phase name, step counts and ETA


def steps_text(n: int) -> str:
    """A step count that fits the bar: 1,920; 720k; 2.40M."""
    if n < 10_000:
        return f"{n:,}"
    return f"{n / 1e3:.0f}k" if n < 1_000_000 else f"{n / 1e6:.2f}M"


def duration_text(seconds: float) -> str:
    """``0:05:12``, as rich writes elapsed time."""
    s = max(int(round(seconds)), 0)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    """The suite's progress: phases (``tune``, ``final``) of known totals, steps as they are trained, notes."""

    def __init__(
        self, enabled: bool = True, console: Console | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self.log_mode = not self.console.is_terminal
        self._clock = clock
        self._planned: dict[str, int] = {}  # steps per phase: its total, or what is expected of one to come
        self._done: dict[str, int] = {}
        self._start: float | None = None  # when the suite's first phase began
        self._phase: str | None = None
        self._phase_start = 0.0
        self._last_line = 0.0  # when the last progress line was written (notes do not count)
        self._bar: _Bar | None = None
        self._task: Any = None

    # ------------------------------------------------------------------------------------ the suite's ETA
    def expect(self, name: str, total: int) -> None:
        """Steps a phase still to come will train (an estimate; its ``phase`` call gives the real total)."""
        if name not in self._done:
            self._planned[name] = max(int(total), 0)

    def eta(self) -> float | None:
        """Seconds until the whole suite is trained, at its average rate so far; None until that rate is known."""
        done = sum(self._done.values())
        if self._start is None or done <= 0:
            return None
        elapsed = self._clock() - self._start
        if elapsed < ETA_AFTER:
            return None
        return max(sum(self._planned.values()) - done, 0) * elapsed / done

    def eta_text(self) -> str:
        eta = self.eta()
        return "suite ETA " + ("-:--:--" if eta is None else duration_text(eta))

    # ------------------------------------------------------------------------------------ phases
    @contextmanager
    def phase(self, name: str, total: int) -> Iterator[None]:
        if not self.enabled or total <= 0:
            yield
            return
        now = self._clock()
        self._start = now if self._start is None else self._start
        self._planned[name], self._done[name] = total, 0
        self._phase, self._phase_start, self._last_line = name, now, now
        if not self.log_mode:
            self._bar = _Bar(self, console=self.console, transient=False, get_time=self._clock)
            self._task = self._bar.add_task(name, total=total)
        finished = False
        try:
            with self._bar or nullcontext():
                try:
                    yield
                    finished = True
                finally:
                    self._end(finished)
        finally:
            self._bar, self._task, self._phase = None, None, None

    def _end(self, finished: bool) -> None:
        """A finished phase shows finished: its bar full (steps not trained, where every member of a population
        stopped early, were not needed) and ``done``; a stopped one stays where it stopped."""
        name = self._phase or ""
        if finished:
            self._planned[name] = self._done[name]
        if self._bar is not None:
            self._bar.stopped = not finished
            if finished:
                self._bar.update(self._task, completed=self._bar.tasks[0].total)
            self._bar.refresh()
        else:
            self._line(self._phase_line(finished))

    def advance(self, steps: int) -> None:
        if self._phase is None:
            return
        self._done[self._phase] += steps
        if self._bar is not None:
            self._bar.advance(self._task, steps)
        elif self._clock() - self._last_line >= LOG_EVERY:
            self._last_line = self._clock()
            self._line(self._phase_line(None))

    def describe(self, text: str) -> None:
        """What is training now: shown under the bar; never written to a log (it changes with every job)."""
        if self._bar is not None:
            self._bar.current = text

    # ------------------------------------------------------------------------------------ lines
    def _phase_line(self, finished: bool | None) -> str:
        """``tune 1,080,000/2,400,000 steps (45%) in 0:25:40; suite ETA 0:31:10``: while a phase runs (None), at
        its end (True) or where it stopped (False)."""
        name = self._phase or ""
        done, total = self._done.get(name, 0), self._planned.get(name, 0)
        state = {None: "", True: " done:", False: " stopped at"}[finished]
        took = duration_text(self._clock() - self._phase_start)
        line = f"{name}{state} {done:,}/{total:,} steps ({done / max(total, 1):.0%}) in {took}"
        left = sum(self._planned.values()) - sum(self._done.values())
        return line + (f"; {self.eta_text()}" if left > 0 else "")

    def _line(self, markup: str) -> None:
        """One time-stamped log line: never wrapped, at most MAX_LINE characters."""
        text = Text(datetime.now().strftime("%Y-%m-%d %H:%M:%S") + " ").append_text(Text.from_markup(markup))
        text.truncate(MAX_LINE, overflow="ellipsis")
        self.console.print(text, soft_wrap=True, highlight=False)

    def warn(self, text: str) -> None:
        """One warning line, shown with or without progress (``--no-progress`` hides notes, not warnings)."""
        if self.enabled:
            self.note(f"[yellow]warning: {text}[/yellow]")
        else:
            import sys

            print(f"ganbench: warning: {' '.join(text.split())}", file=sys.stderr)

    def note(self, text: str) -> None:
        if not self.enabled:
            return
        if self.log_mode:
            self._line(" ".join(text.split()))  # one line, whatever the note held
        else:
            self.console.print(text)


class _EtaColumn(ProgressColumn):
    """``suite ETA 0:31:10`` while the phase runs, ``done`` once it finished, ``stopped`` when interrupted."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress

    def render(self, task: Task) -> Text:
        if task.finished:
            return Text("done", style="green")
        bar = self.progress._bar
        return Text("stopped" if bar is not None and bar.stopped else self.progress.eta_text(), style="cyan")


class _StepsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{steps_text(int(task.completed))}/{steps_text(int(task.total or 0))} steps")


class _Bar(RichProgress):
    """rich's progress bar, one row per phase, with the job training now on the line under it."""

    def __init__(self, progress: Progress, **kwargs: Any) -> None:
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=BAR_WIDTH),
            TaskProgressColumn(),
            _StepsColumn(),
            TimeElapsedColumn(),
            _EtaColumn(progress),
        )
        self.current, self.stopped = "", False  # before rich's init, which renders once
        super().__init__(*columns, **kwargs)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        if self.current and not all(task.finished for task in self.tasks):
            yield Text(f"  {self.current}", no_wrap=True, overflow="ellipsis", style="dim")
