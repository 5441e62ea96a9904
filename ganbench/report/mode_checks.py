"""The report's checks on the modes: coverage still rising at the end of training, and samples that miss the
modes (registered with the validity checks; the first one's threshold is theirs, ``validity.UNDERTRAINED_MARGIN``).

``coverage_rising``: the modes covered rose by more than ``UNDERTRAINED_MARGIN`` (10 %, relative) over the last
quarter of training, in more than half of a contender's seeds: it was still finding modes when training
stopped, so its coverage is where the budget left it. Annealing alone adds no modes: on stacked digits
(results/images_cpu) the four settled contenders ended the decay within 1 % of their modes at step 1,500
while their FID still fell by up to 5 %. So the whole last quarter is read, decay or not.

``off_modes``: a contender whose mean share of high-quality samples (near a mode) is below half of what real
data scores. It may cover every mode and still not have learned them: in results/losses_cpu_replicated
every grid25 contender covered 18-24 of 25 modes on average while putting 3-44 % of its samples near them
(real data 98.8 %), filling the square or tracing the grid's lines. When every contender of a dataset is
below, its table compares GANs that did not learn the data, and the finding says so.
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


OFF_MODES_FRACTION = 0.5  # of real data's high-quality share
NOT_A_RESULT = "this dataset's table is not a result"  # the off-modes finding when every contender is below


@check("off_modes", "samples off the modes (the data not learned)")
def off_modes(summary: pd.DataFrame, real: pd.DataFrame, name: Callable[[str, str], str]) -> list[Finding]:
    """Contenders whose mean high-quality share is below OFF_MODES_FRACTION of real data's, per dataset; none
    where real data's share was not logged."""
    if summary.empty or real.empty:
        return []
    out = []
    rows = summary[summary["metric"] == M.HIGH_QUALITY]
    for dataset, part in rows.groupby("dataset", sort=True):
        ref = real[(real["dataset"] == dataset) & (real["metric"] == M.HIGH_QUALITY)]["mean"]
        if ref.empty or not ref.iloc[0] > 0:
            continue
        bar = OFF_MODES_FRACTION * float(ref.iloc[0])
        low = part[part["mean"] < bar]
        if low.empty:
            continue
        names = [name(a, b) for a, b in zip(low["loss"], low["strategy"])]
        hits = [f"{n} ({m:.3g} %)" for n, m in zip(names, low["mean"])]
        every = len(low) == len(part)
        detail = (
            f"mean high-quality samples below {OFF_MODES_FRACTION:.0%} of real data's {float(ref.iloc[0]):.3g} %: "
            + "; ".join(hits)
            + (
                f"; no contender reached it on average: {NOT_A_RESULT}"
                if every
                else "; these rows compare GANs that did not learn the data"
            )
        )
        out.append(Finding("off_modes", str(dataset), tuple(names), detail))
    return out
