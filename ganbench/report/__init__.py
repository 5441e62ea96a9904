"""The report, built only from what the stores hold (so it can be rebuilt after a crash or on another machine).

- :mod:`.frame`: the store as a table, one row per final run;
- :mod:`.inference`: the one statistical model (a t posterior over replicates, or over seeds with one replicate);
- :mod:`.stats`: per contender its interval, p_best and the ROPE decisions against the best;
- :mod:`.ranking`: the overall ranking (Friedman over blocks, groups from the pairwise decisions);
- :mod:`.budget`: expected best after k trials, the compute-matched view, the pruning check;
- :mod:`.checks`: the validity checks' registry; :mod:`.validity` and :mod:`.tuning_checks`: the checks (whether
  the tables can be trusted); :mod:`.headline`: the verdict lines;
- :mod:`.tables`, :mod:`.writers`, :mod:`.figures`, :mod:`.plots`: what is written (CSV, Markdown, LaTeX,
  HTML, PNG); :mod:`.terminal`: the 80-column view; :mod:`.studies`: the tuning report;
- :mod:`.build`: all of the above, in order (:func:`build_report`).
"""

from __future__ import annotations

from ganbench.report.build import ReportResult, build_report
from ganbench.report.frame import ReportError

__all__ = ["ReportError", "ReportResult", "build_report"]
