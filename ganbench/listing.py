"""What is registered, one line each, for ``ganbench list``: a loss with its paper (from its docstring) and
parameters, a strategy with its recipe, a dataset with its kind and size, a metric with its direction and
feature spaces, a suite with its description."""

from __future__ import annotations

import re


def plain(text: str | None) -> str:
    """A docstring's first line without its reST markup (``code``, :class:`X`)."""
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return re.sub(r":\w+:`~?([^`]*)`", r"\1", first).replace("``", "")


def citation(text: str | None) -> str:
    """What a loss is and its paper: a docstring's first line up to its first parenthesis holding a year
    (``Saturating minimax GAN (Goodfellow et al. 2014)``), else up to its first year, else its first sentence."""
    line = plain(text)
    year = r"\b(19|20)\d\d[a-z]?"
    found = re.match(rf"[^(]*\([^)]*{year}\)", line) or re.match(rf".*?{year}\b", line)
    return found.group(0) if found else line.split(". ")[0].rstrip(".")


def _columns(rows: list[tuple[str, str]]) -> list[str]:
    width = max((len(name) for name, _ in rows), default=0)
    return [f"{name:<{width}}  {what}".rstrip() for name, what in rows]


def list_losses() -> list[str]:
    import inspect

    from ganbench.losses import LOSSES, penalties

    rows = []
    for name in LOSSES.names():
        spec = LOSSES.get(name)
        defaults = {
            n: p.default
            for fn in (spec.fn, spec.penalty)
            if fn is not None
            for n, p in inspect.signature(fn).parameters.items()
        }
        defaults.setdefault("weight_clip", spec.weight_clip)
        params = ", ".join(f"{n}={defaults.get(n, '?')}" for n in spec.param_names())
        what = citation(spec.fn.__doc__) or f"registered by {LOSSES.origin(name)}"
        rows.append((name, what + (f"; params {params}" if params else "")))
    for p in penalties():  # a penalty loss's penalty function states its paper
        rows.append((f"<loss>+{p}", f"any loss with the {citation(LOSSES.get(p).penalty.__doc__)} penalty added"))
    return _columns(rows)


def list_strategies() -> list[str]:
    from ganbench.strategies import STRATEGIES, strategy_line

    rows = [(n, strategy_line(STRATEGIES.get(n))) for n in STRATEGIES.names()]
    rows.append(("<strategy>+ema", "the same, evaluated on an EMA of G's weights (decay 0.999)"))
    return _columns(rows)


def list_datasets() -> list[str]:
    """Each dataset's kind (points or image) and what it holds (its size; where an external one is read)."""
    from ganbench.data import DATASETS, dataset_kind

    return _columns([(n, f"{dataset_kind(n):<6}  {plain(DATASETS.get(n).__doc__)}") for n in DATASETS.names()])


def list_suites() -> list[str]:
    import yaml

    from ganbench.suite import SUITES_DIR, bundled_suites

    def description(name: str) -> str:
        data = yaml.safe_load((SUITES_DIR / f"{name}.yaml").read_text())
        return " ".join(str(data.get("description", "")).split())

    return _columns([(n, description(n)) for n in bundled_suites()])


def list_models() -> list[str]:
    from ganbench.models import MODELS

    return _columns([(n, plain(MODELS.get(n).__doc__)) for n in MODELS.names()])


def list_metrics() -> list[str]:
    """Each declared metric: what it is, its role in the report (and which way is better where it is ranked),
    whether tuning may optimize it, and its names in the feature spaces it is computed in."""
    from ganbench.metrics import METRICS

    rows = []
    for spec in METRICS.values():
        if spec.resource:
            role = "a run's cost"
        elif spec.kind in ("quality", "coverage"):
            role = f"ranked, {'higher' if spec.higher_is_better else 'lower'} is better"
        else:
            role = {"diagnostic": "summarized, not ranked", "record": "logged only"}.get(spec.kind, spec.kind)
        parts = [spec.label, role] + (["a tuning objective"] if spec.objective else [])
        if spec.spaces:
            parts.append("as " + ", ".join(spec.names()))
        rows.append((spec.name, "; ".join(parts)))
    return _columns(rows)


LISTERS = {
    "losses": list_losses,
    "strategies": list_strategies,
    "datasets": list_datasets,
    "suites": list_suites,
    "models": list_models,
    "metrics": list_metrics,
}
LIST_KINDS = tuple(LISTERS)
