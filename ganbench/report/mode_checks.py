"""The report's check on mode coverage still rising at the end of training (registered with the validity
checks; its threshold is theirs, ``validity.UNDERTRAINED_MARGIN``).

``coverage_rising``: the modes covered rose by more than ``UNDERTRAINED_MARGIN`` (10 %, relative) over the last
quarter of training, in more than half of a contender's seeds: it was still finding modes when training
stopped, so its coverage is where the budget left it. Annealing alone adds no modes: on stacked digits
(results/images_cpu) the four settled contenders ended the decay within 1 % of their modes at step 1,500
while their FID still fell by up to 5 %. So the whole last quarter is read, decay or not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from ganbench import metrics as M
from ganbench.report.checks import Finding, check
from ganbench.report.validity import UNDERTRAINED_MARGIN, last_quarter_gain, most_seeds
from ganbench.status import Status


@check("coverage_rising", "modes still being found (coverage rising at the end)")
def coverage_rising(
    runs: pd.DataFrame, mode_histories: Mapping[str, Sequence[tuple[int, float]]], name: Callable[[str, str], str]
) -> list[Finding]:
    """Contenders whose modes covered rose by more than the margin at the end (:func:`last_quarter_gain`) in most
    finished seeds; none without mode counts (a one-class set, or nothing ran)."""
    if not mode_histories:
        return []
    out = []
    finished = runs[(runs["status"] == Status.FINISHED) & runs["run_id"].isin(list(mode_histories))]
    for dataset, part in finished.groupby("dataset", sort=True):
        gains_of = lambda seeds: [last_quarter_gain(mode_histories[r], M.MODES_COVERED) for r in seeds["run_id"]]  # noqa: E731
        hits = most_seeds(part, gains_of, name)
        if hits:
            out.append(
                Finding(
                    "coverage_rising",
                    str(dataset),
                    tuple(h for h, _ in hits),
                    f"modes covered rose by more than {UNDERTRAINED_MARGIN:.0%} over the last quarter of training: "
                    f"{'; '.join(f'{h} ({d})' for h, d in hits)}; their coverage is where training stopped, not "
                    "what the loss reaches: train longer",
                )
            )
    return out
