"""What a finished study leaves for the report and for a resumed run: its counted trials as records, its
best-so-far curve, and a trial member's result read back from its MLflow run."""

from __future__ import annotations

import math
from typing import Any

from optuna.trial import TrialState

from ganbench import metrics as M
from ganbench.status import Status
from ganbench.strategies import tied_rates
from ganbench.tracking import TAG_STATUS
from ganbench.train import RunResult
from ganbench.tuning.base import ATTR_COMPUTE, ATTR_STATUS

TRIALS_ARTIFACT = "trials.json"  # on each study run: its counted trials (trial_records), read by the report
COUNTS = (Status.FINISHED, Status.PRUNED, Status.DIVERGED, Status.FAILED)  # how a study's counted trials ended


def _counted(study: Any) -> list[Any]:
    """The trials that count against the budget (completed or pruned), in trial order."""
    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return sorted(study.get_trials(deepcopy=False, states=states), key=lambda t: t.number)


def trial_records(study: Any) -> list[dict[str, Any]]:
    """Every counted trial as the report reads it: number, status, parameters, final value (None when pruned
    or diverged), the values at each evaluation (the pruner's rungs among them) and the compute spent."""
    return [
        {
            "number": t.number,
            "status": t.user_attrs.get(ATTR_STATUS),
            "params": tied_rates(t.params),
            "value": t.value if t.state == TrialState.COMPLETE else None,
            "steps": {str(k): (v if math.isfinite(v) else None) for k, v in t.intermediate_values.items()},
            "compute": t.user_attrs.get(ATTR_COMPUTE, 0.0),
        }
        for t in _counted(study)
    ]


def budget_curve(study: Any) -> list[float]:
    """Best value after each counted trial, in trial order (NaN until the first completed trial)."""
    better = max if study.direction.name == "MAXIMIZE" else min
    best, curve = math.nan, []
    for t in _counted(study):
        if t.state == TrialState.COMPLETE:
            best = t.value if math.isnan(best) else better(best, t.value)
        curve.append(best)
    return curve


def result_of(run: Any) -> RunResult:
    """A trial member's result as its finished MLflow run recorded it."""
    metrics = dict(run.data.metrics)
    step = metrics.get(M.DIVERGED_STEP)
    return RunResult(run.data.tags[TAG_STATUS], 0, metrics, None if step is None else int(step))
