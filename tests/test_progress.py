"""Progress of a suite: time-stamped, unwrapped lines at a steady pace where the output is not a terminal; a bar
that fits 80 columns and shows a finished phase as finished on a terminal; an ETA for the whole suite that moves
smoothly (a fake clock drives every case)."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from ganbench.progress import LOG_EVERY, MAX_LINE, Progress, duration_text, steps_text

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _log() -> tuple[Progress, Clock, io.StringIO]:
    out, clock = io.StringIO(), Clock()
    console = Console(file=out, force_terminal=False, width=80)  # what a redirected run gets
    return Progress(console=console, clock=clock), clock, out


def test_a_log_gets_a_time_stamped_line_every_30_s_and_at_each_phase_end() -> None:
    progress, clock, out = _log()
    progress.expect("final", 3000)
    with progress.phase("tune", 1000):
        for _ in range(100):  # 100 s at 10 steps/s
            clock.now += 1
            progress.advance(10)
            progress.describe("hinge|adam_dcgan|ring8 (4 runs)")  # never a line of its own
        progress.note("tuned hinge|adam_dcgan|ring8: " + "a long note " * 30)
    lines = out.getvalue().splitlines()
    assert all(STAMP.match(line) and len(line) <= MAX_LINE for line in lines), lines
    progress_lines = [line[20:] for line in lines if "steps" in line]
    # at 30, 60 and 90 s, then the phase's end; each with the steps, the percentage and the suite's ETA
    assert len(progress_lines) == 1 + 100 // int(LOG_EVERY)
    assert progress_lines[0] == "tune 300/1,000 steps (30%) in 0:00:30; suite ETA 0:06:10"
    assert progress_lines[-1] == "tune done: 1,000/1,000 steps (100%) in 0:01:40; suite ETA 0:05:00"
    note = next(line for line in lines if "tuned" in line)
    assert note.endswith("…") and len(note) == MAX_LINE  # cut, not wrapped onto a second line
    assert not any("hinge|adam_dcgan|ring8 (4 runs)" in line for line in lines)


def test_a_phase_that_is_stopped_says_so() -> None:
    progress, clock, out = _log()
    with pytest.raises(KeyboardInterrupt), progress.phase("final", 1000):
        clock.now += 10
        progress.advance(250)
        raise KeyboardInterrupt
    assert (
        out.getvalue().splitlines()[-1][20:] == "final stopped at 250/1,000 steps (25%) in 0:00:10; suite ETA 0:00:30"
    )


def test_steps_not_trained_do_not_stay_in_the_suite_eta() -> None:
    """A tuning phase whose last population stopped early ends below its total: those steps are not owed."""
    progress, clock, _ = _log()
    progress.expect("final", 1000)
    with progress.phase("tune", 1000):
        clock.now += 60
        progress.advance(600)
    assert progress.eta() == pytest.approx(1000 * 60 / 600)


def test_the_suite_eta_moves_smoothly_when_populations_train_at_different_speeds() -> None:
    """Populations alternate between 100 and 25 steps/s; each second the ETA falls by about one second and never
    jumps (rich's window of the last 30 s of one phase swung it by a factor of 2 or more)."""
    progress, clock, _ = _log()
    progress.expect("final", 20_000)
    etas = []
    with progress.phase("tune", 10_000):
        for second in range(120):
            clock.now += 1
            progress.advance(100 if second // 20 % 2 == 0 else 25)
            etas.append(progress.eta())
    known = [e for e in etas if e is not None]
    assert len(known) >= 110
    for before, after in zip(known, known[1:]):
        assert abs(after - (before - 1)) <= 0.1 * before, (before, after)


def test_the_terminal_bar_fits_80_columns_and_a_finished_phase_shows_finished() -> None:
    out, clock = io.StringIO(), Clock()
    console = Console(file=out, force_terminal=True, width=80, color_system=None)
    progress = Progress(console=console, clock=clock)
    progress.expect("final", 2_400_000)
    with progress.phase("tune", 2_400_000):
        progress.describe("non_saturating|ttur_beta1|grid25 (4 runs)")
        clock.now += 100
        progress.advance(1_200_000)
        progress._bar.refresh()
        clock.now += 60
        progress.advance(720_000)  # short of the total: the last population stopped early
    # each screen the live display drew: cursor codes removed, one row per line
    screens = [line.rstrip() for line in re.split(r"[\r\n]", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue()))]
    rows = [row for row in screens if row]
    assert max(len(row) for row in rows) <= 80
    running = next(row for row in rows if "1.20M/2.40M" in row)
    # half-way at 100 s: 1.2M + 2.4M (the final phase) left at 12,000 steps/s
    assert running.startswith("tune ━") and " 50% " in running and running.endswith("0:01:40 suite ETA 0:05:00")
    assert "  non_saturating|ttur_beta1|grid25 (4 runs)" in rows
    final = rows[-1]
    assert final.startswith("tune ━") and final.endswith("100% 2.40M/2.40M steps 0:02:40 done")


def test_notes_on_a_terminal_are_printed_as_they_are() -> None:
    out = io.StringIO()
    progress = Progress(console=Console(file=out, force_terminal=True, width=80, color_system=None))
    progress.note("tuned hinge: w1_raw 0.05")
    assert out.getvalue() == "tuned hinge: w1_raw 0.05\n"
    silent = Progress(enabled=False, console=Console(file=io.StringIO(), force_terminal=False))
    silent.note("nothing")
    with silent.phase("tune", 10):
        silent.advance(10)
    assert silent.console.file.getvalue() == ""


@pytest.mark.parametrize(("n", "text"), [(1920, "1,920"), (720_000, "720k"), (2_400_000, "2.40M")])
def test_step_counts_fit_the_bar(n: int, text: str) -> None:
    assert steps_text(n) == text


def test_durations_read_as_hours_minutes_seconds() -> None:
    assert [duration_text(s) for s in (0, 59.6, 312, 3 * 3600 + 7)] == ["0:00:00", "0:01:00", "0:05:12", "3:00:07"]
