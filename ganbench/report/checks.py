"""The validity checks' registry: a check is one function, registered where it is defined with ``@check``.

A check's parameters are named after the fields of :class:`Evidence` it reads (``runs``, ``summary``, ``studies``
...), so ``run_checks`` hands each one what it asks for, and a test calls it with just those. The checks on the
trained runs are in :mod:`.validity`, those on the tuning studies in :mod:`.tuning_checks`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd

KINDS: dict[str, str] = {}  # kind -> how a finding of that kind is labelled, in the order checks registered
CHECKS: dict[str, Callable[..., list[Finding]]] = {}
_PRIORITY: dict[str, int] = {}


@dataclass(frozen=True)
class Finding:
    """One validity warning: its kind (a key of KINDS), the dataset, the contenders it concerns, the evidence."""

    kind: str
    dataset: str
    contenders: tuple[str, ...]
    detail: str

    def text(self) -> str:
        return f"{KINDS[self.kind]} on {self.dataset}: {self.detail}"


@dataclass(frozen=True)
class Evidence:
    """Everything a check may read: the final runs, their summary, each dataset's primary metric and mode count,
    the primary metric's and the modes covered's history per finished run, the tuning studies, the pruning
    check's table, what real data scores (``frame.real_frame``), and how a contender is named."""

    runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    primary: Mapping[str, str] = field(default_factory=dict)
    modes: Mapping[str, int] = field(default_factory=dict)
    histories: Mapping[str, Sequence[tuple[int, float]]] = field(default_factory=dict)
    mode_histories: Mapping[str, Sequence[tuple[int, float]]] = field(default_factory=dict)  # modes covered
    studies: Sequence[Any] = ()
    pruning_check: pd.DataFrame = field(default_factory=pd.DataFrame)
    real: pd.DataFrame = field(default_factory=pd.DataFrame)
    name: Callable[[str, str], str] = lambda loss, strategy: loss


def check(
    kind: str, label: str, *, first: bool = False
) -> Callable[[Callable[..., list[Finding]]], Callable[..., list[Finding]]]:
    """Register ``fn`` as the check that finds ``kind``; ``first``: its findings open the list (the warning
    that qualifies every other, such as an unmeasured tuning variance)."""

    def register(fn: Callable[..., list[Finding]]) -> Callable[..., list[Finding]]:
        known = {f.name for f in fields(Evidence)}
        unknown = set(inspect.signature(fn).parameters) - known
        if unknown:
            raise TypeError(f"validity check {fn.__name__} asks for {sorted(unknown)}; Evidence holds {sorted(known)}")
        KINDS[kind], CHECKS[kind], _PRIORITY[kind] = label, fn, 0 if first else 1
        return fn

    return register


def run_checks(evidence: Evidence) -> list[Finding]:
    """Every registered check's findings: the ``first`` checks', then the others' in the order they registered."""
    out: list[Finding] = []
    for kind in sorted(CHECKS, key=lambda k: _PRIORITY[k]):
        fn = CHECKS[kind]
        out += fn(**{p: getattr(evidence, p) for p in inspect.signature(fn).parameters})
    return out
