"""The first batch of a study: points spread over its search space (a Latin hypercube), instead of random ones."""

from __future__ import annotations

import math
import random
from typing import Any


def first_batch(space: dict[str, tuple[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` points that spread over ``space`` (a Latin hypercube): every dimension is cut into ``n`` equal
    strata (log-scaled for ``log``), each point gets another stratum in each, and a choice's values appear
    equally often (all of them once when ``n`` is at least their number).

    Random points can all fall together: in one run the 3 random points of a first batch all had beta1 0.9 with
    5 D steps, and the losses that shared them never trained. Each dimension is drawn from ``seed`` and its
    name only, so contenders whose spaces share a dimension get the same values in it (common random
    numbers), whatever else they search."""
    points: list[dict[str, Any]] = [{} for _ in range(n)]
    for name, (kind, values) in space.items():
        rng = random.Random(f"{seed}:{name}")
        strata = rng.sample(range(n), n)
        if kind == "choice":
            order = rng.sample(list(values), len(values))
            column = [order[stratum % len(order)] for stratum in strata]
        else:
            low, high = values
            fractions = [(stratum + rng.random()) / n for stratum in strata]
            if kind == "log":
                column = [math.exp(math.log(low) + f * (math.log(high) - math.log(low))) for f in fractions]
            else:
                column = [low + f * (high - low) for f in fractions]
        for point, value in zip(points, column, strict=True):
            point[name] = value
    return points
