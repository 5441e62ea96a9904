"""Validity diagnostics: the report checks whether its own tables can be trusted, and says so at the top, in the
terminal and as MLflow tags on the suite run. A table without a finding is one the harness believes.

Each diagnostic has one threshold, chosen so that it fires on a problem that could change the table and stays
silent on evaluation noise:

- ``undertrained``: the primary metric improved by more than ``UNDERTRAINED_MARGIN`` (10 %, relative) over the
  last quarter of training, in more than half of a contender's seeds. Below 10 % the change is of the order of
  one evaluation's noise (2,500 samples) and of the seed-to-seed spread; above it, a longer run would likely
  move the contender in the table. Requiring most seeds keeps one noisy seed from firing it. When the learning
  rates decay to 0 (``lr_decay_from``), the metric improves while they anneal whether or not more steps would
  help, so a run counts only when it improved by the margin both over the last quarter of training and over
  the last quarter of the steps before the decay began (the smaller of the two gains is its gain): a run that
  was still learning when the annealing started and was still improving at the end. Either one alone misleads:
  the first fires on every annealed run, the second on early learning when evaluations are sparse (with 4
  evaluations and decay from half-way, the constant-rate phase has only its first two).
- ``search_edge``: a tuned continuous value (lr_g, lr_d on a log scale; beta1 when searched over a range) within
  ``EDGE_FRACTION`` (5 %) of the search range from a bound (0.15 decade of a 3-decade lr range, a factor 1.4):
  the optimum may lie outside the range, so the contender was not tuned as well as the range suggests.
  Categorical choices (n_critic, a beta1 list) cannot be on an edge.
- ``tuning_budget``: a study's best-so-far objective still improved by more than ``BUDGET_MARGIN`` (5 %,
  relative) over its last quarter of trials: the budget had not saturated (Lucic et al. 2018, Fig. 5), so more
  trials could still reorder the contenders. Best-so-far is monotone and has no evaluation noise of its own, so
  the margin is lower than the undertrained one.
- ``mode_collapse``: mean modes covered below ``COLLAPSE_FRACTION`` (75 %) of the dataset's modes. A plain GAN
  covers 17.3 of 25 grid modes in PacGAN (69 %), the collapse that paper fixes; a well-trained one covers all.
- ``failed``: a contender with failed runs. Those runs are not in the statistics; a contender whose runs all
  failed is absent from the tables, so the report names it and the first error instead of dropping it.
- ``tuning_variance``: the suite ran one replicate, so the tuning's own variance is in no interval or decision:
  every verdict is conditional on one tuning draw, and a re-tune can reorder the contenders (a clean re-tune of
  the non-saturating loss moved it from 65 % to 13 % high-quality samples on grid25).
- ``undecided``: on the primary metric, the best contender is undecided (neither practically equivalent nor
  practically better) against more than ``UNDECIDED_SHARE`` (half) of the others: the table cannot tell most
  contenders apart at this budget; more replicates (or seeds) would.
- ``pruning``: among the trials that ran to the end, pairs of one study were ordered at a pruning rung as at the
  end with Kendall's tau below ``PRUNING_TAU`` (0.5: three pairs in four in the same order): the rung predicts
  the end too weakly for halving to be trusted, so it may have stopped the trial that would have won. Checked
  on at least ``PRUNING_PAIRS`` (5) pairs; trials that survived are a selected group, which tends to lower tau,
  so a weak tau is a warning, not a proof.
- ``mode_labels``: the image evaluator's classifier reads a real sample's mode right less than
  ``LABEL_ACCURACY`` (90 %) of the time on images it never trained on (for stacked digits, its per-digit
  accuracy cubed). Below that, a tenth of the real samples already land on a wrong mode, so modes covered
  and KL measure the classifier's errors as much as the generator's collapse.
- ``recipe_outside``: a loss's published training recipe (its learning rate) lies outside the suite's search
  range, so tuning could not even try what its paper did.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from ganbench import metrics as M
from ganbench.report.checks import KINDS, Finding, check
from ganbench.status import Status

UNDERTRAINED_MARGIN = 0.10
EDGE_FRACTION = 0.05
BUDGET_MARGIN = 0.05
COLLAPSE_FRACTION = 0.75
QUARTER = 0.25
UNDECIDED_SHARE = 0.5
PRUNING_TAU = 0.5
PRUNING_PAIRS = 5
LABEL_ACCURACY = 0.9
TAG_VALIDITY = "ganbench.report.validity"  # ok | warnings; one ganbench.report.validity.<kind> tag per kind
TAG_TUNING_VARIANCE = "ganbench.tuning_variance"  # measured | unmeasured (one replicate)


def improvement(earlier: float, later: float, metric: str) -> float:
    """Relative improvement from ``earlier`` to ``later`` (positive = better); NaN when undefined."""
    if not (math.isfinite(earlier) and math.isfinite(later)) or earlier == 0:
        return math.nan
    gain = later - earlier if M.is_higher_better(metric) else earlier - later
    return gain / abs(earlier)


def last_quarter_gain(history: Sequence[tuple[int, float]], metric: str) -> float:
    """Improvement over the last quarter of training: the last evaluation against the latest one at or before
    75 % of the last step, scaled to a quarter when the evaluations are further apart. NaN without two."""
    if len(history) < 2:
        return math.nan
    last_step, last = history[-1]
    before = [(s, v) for s, v in history[:-1] if s <= (1 - QUARTER) * last_step]
    if not before or last_step <= 0:
        return math.nan
    step, value = before[-1]
    return improvement(value, last, metric) * QUARTER * last_step / (last_step - step)


def before_decay(history: Sequence[tuple[int, float]], decay_from: float | None) -> list[tuple[int, float]]:
    """The evaluations of the constant-rate phase: those at or before the step where the learning rates began
    to decay (``decay_from`` of the last step); all of them without a decay."""
    if decay_from is None or not math.isfinite(decay_from) or not history:
        return list(history)
    start = decay_from * history[-1][0]
    return [(s, v) for s, v in history if s <= start]


def run_gain(history: Sequence[tuple[int, float]], metric: str, decay_from: float | None) -> float:
    """A run's improvement at the end: over the last quarter of training, and, when its learning rates decayed,
    no more than over the last quarter of the constant-rate phase (when that phase has two evaluations)."""
    gain = last_quarter_gain(history, metric)
    if decay_from is None or not math.isfinite(decay_from):
        return gain
    before = last_quarter_gain(before_decay(history, decay_from), metric)
    return gain if math.isnan(before) else min(gain, before)


def most_seeds(part: pd.DataFrame, gains_of: Callable[[pd.DataFrame], list[float]], name: Callable) -> list:
    """(contender, "+x% in k/n seeds") for each contender of ``part`` whose gain exceeds UNDERTRAINED_MARGIN in
    more than half of its seeds (``gains_of(seeds)``: one gain per seed, NaN where undefined)."""
    hits = []
    for (loss, strategy), seeds in part.groupby(["loss", "strategy"], sort=True):
        gains = [g for g in gains_of(seeds) if not math.isnan(g)]
        rising = sum(g > UNDERTRAINED_MARGIN for g in gains)
        if gains and rising > len(gains) / 2:
            hits.append((name(loss, strategy), f"{sorted(gains)[len(gains) // 2]:+.0%} in {rising}/{len(gains)} seeds"))
    return hits


@check("undertrained", "undertrained (primary metric still improving)")
def undertrained(
    runs: pd.DataFrame,
    primary: Mapping[str, str],
    histories: Mapping[str, Sequence[tuple[int, float]]],
    name: Callable[[str, str], str],
) -> list[Finding]:
    """Contenders whose primary metric improved by more than UNDERTRAINED_MARGIN at the end of training
    (:func:`run_gain`) in more than half of their (non-diverged) seeds; ``histories`` maps run id to its
    primary curve."""
    out = []
    for dataset, metric in sorted(primary.items()):
        part = runs[(runs["dataset"] == dataset) & (runs["status"] == Status.FINISHED)]

        def gains_of(seeds: pd.DataFrame, metric: str = metric) -> list[float]:
            decays = seeds["lr_decay_from"] if "lr_decay_from" in seeds else [None] * len(seeds)
            return [run_gain(histories.get(r, []), metric, d) for r, d in zip(seeds["run_id"], decays)]

        hits = most_seeds(part, gains_of, name)
        if hits:
            decays = part["lr_decay_from"].dropna() if "lr_decay_from" in part else []
            decayed = any(math.isfinite(d) for d in decays)
            phase = "training and of the steps before the learning rates decayed" if decayed else "training"
            out.append(
                Finding(
                    "undertrained",
                    dataset,
                    tuple(h for h, _ in hits),
                    f"{metric} improved by more than {UNDERTRAINED_MARGIN:.0%} over the last quarter of "
                    f"{phase}: {'; '.join(f'{h} ({d})' for h, d in hits)}; train longer",
                )
            )
    return out


@check("mode_collapse", "mode collapse")
def mode_collapse(summary: pd.DataFrame, modes: Mapping[str, int], name: Callable[[str, str], str]) -> list[Finding]:
    """Contenders whose mean modes covered is below COLLAPSE_FRACTION of the dataset's modes."""
    out = []
    rows = summary[summary["metric"] == M.MODES_COVERED] if not summary.empty else summary
    for dataset, part in rows.groupby("dataset", sort=True) if not rows.empty else []:
        total = modes.get(str(dataset))
        if not total:
            continue
        low = part[part["mean"] < COLLAPSE_FRACTION * total]
        if not low.empty:
            hits = [(name(a, b), f"{m:.3g}/{total}") for a, b, m in zip(low["loss"], low["strategy"], low["mean"])]
            out.append(
                Finding(
                    "mode_collapse",
                    str(dataset),
                    tuple(h for h, _ in hits),
                    f"mean modes covered below {COLLAPSE_FRACTION:.0%} of {total}: "
                    f"{'; '.join(f'{h} ({d})' for h, d in hits)}",
                )
            )
    return out


@check("failed", "runs failed (left out of the tables)")
def failed_runs(runs: pd.DataFrame, name: Callable[[str, str], str]) -> list[Finding]:
    """Contenders with failed runs, per dataset: how many of their runs failed, and the first error."""
    out = []
    if runs.empty or "status" not in runs:
        return out
    for dataset, part in runs.groupby("dataset", sort=True):
        hits = []
        for (loss, strategy), runs_of in part.groupby(["loss", "strategy"], sort=True):
            failed = runs_of[runs_of["status"] == Status.FAILED]
            if failed.empty:
                continue
            errors = failed["error"].dropna() if "error" in failed else pd.Series(dtype=object)
            first = f": {str(errors.iloc[0])[:160]}" if not errors.empty else ""
            every = "all " if len(failed) == len(runs_of) else ""
            hits.append((name(loss, strategy), f"{every}{len(failed)}/{len(runs_of)} runs failed{first}"))
        if hits:
            out.append(
                Finding("failed", str(dataset), tuple(h for h, _ in hits), "; ".join(f"{h} ({d})" for h, d in hits))
            )
    return out


@check("tuning_variance", "tuning variance unmeasured (one replicate)", first=True)
def tuning_variance(summary: pd.DataFrame) -> list[Finding]:
    """One finding for the suite when it ran a single replicate (every verdict is then conditional on it)."""
    if summary.empty or "replicates" not in summary or summary["replicates"].max() > 1:
        return []
    datasets = ", ".join(sorted(summary["dataset"].unique()))
    return [
        Finding(
            "tuning_variance",
            datasets,
            (),
            "every interval, p_best and decision is conditional on one tuning draw; run with --replicates 3 "
            "(or more) to put the tuning's variance into the verdict",
        )
    ]


@check("undecided", "most contenders undecided against the best")
def undecided(summary: pd.DataFrame, primary: Mapping[str, str]) -> list[Finding]:
    """Datasets where the best is undecided against more than UNDECIDED_SHARE of the other contenders."""
    out = []
    for dataset, metric in sorted(primary.items()):
        rows = (
            summary[(summary["dataset"] == dataset) & (summary["metric"] == metric)] if not summary.empty else summary
        )
        others = rows[~rows["best"].astype(bool)] if len(rows) else rows
        if len(others) == 0:
            continue
        open_ = int((others["vs_best"] == "undecided").sum())
        if open_ > UNDECIDED_SHARE * len(others):
            unit = str(rows["unit"].iloc[0]) if "unit" in rows else "seed"
            out.append(
                Finding(
                    "undecided",
                    str(dataset),
                    (),
                    f"on {metric} the best is undecided against {open_} of {len(others)} contenders "
                    f"(units: {unit}s): the table cannot tell them apart at this budget; more replicates "
                    "would narrow it",
                )
            )
    return out


@check("mode_labels", "mode classifier too inaccurate for mode counts")
def mode_labels(runs: pd.DataFrame) -> list[Finding]:
    """Datasets whose mode classifier's held-out accuracy (per sample) is below LABEL_ACCURACY."""
    if "mode_label_accuracy" not in runs:
        return []
    out = []
    for dataset, part in runs.groupby("dataset", sort=True):
        accuracy = part["mode_label_accuracy"].dropna()
        if not accuracy.empty and accuracy.min() < LABEL_ACCURACY:
            out.append(
                Finding(
                    "mode_labels",
                    str(dataset),
                    (),
                    f"the mode classifier is right on {accuracy.min():.1%} of held-out real samples "
                    f"(below {LABEL_ACCURACY:.0%}): modes covered and KL count its errors too; trust "
                    "FID more than the mode counts here",
                )
            )
    return out


def validity_tags(findings: Sequence[Finding]) -> dict[str, str]:
    """MLflow tags for the suite run: ``ganbench.report.validity`` = ok | warnings, and per kind the datasets and
    contenders concerned (``none`` when silent, so a rebuilt report overwrites an old warning); also
    ``ganbench.tuning_variance`` = measured | unmeasured."""
    tags = {TAG_VALIDITY: "warnings" if findings else "ok"}
    unmeasured = any(f.kind == "tuning_variance" for f in findings)
    tags[TAG_TUNING_VARIANCE] = (
        "unmeasured (one replicate: verdicts conditional on one tuning draw)" if unmeasured else "measured"
    )
    for kind in KINDS:
        parts = [f"{f.dataset}: {', '.join(f.contenders) or 'all'}" for f in findings if f.kind == kind]
        tags[f"{TAG_VALIDITY}.{kind}"] = "; ".join(parts)[:5000] or "none"
    return tags
