"""What ran, recorded on the suite's parent run in MLflow: the suite's settings as params, the suite as it ran as
the artifact ``suite.yaml``, and the ganbench version and git commit as tags. With them a run found in the MLflow
UI can be rerun, or its numbers tied to the code that made them."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

TAG_VERSION = "ganbench.version"
TAG_COMMIT = "ganbench.git_commit"  # <sha>, or <sha>-dirty with uncommitted changes
MLFLOW_COMMIT_TAG = "mlflow.source.git.commit"  # what MLflow's UI shows as the run's git commit
TAG_PLUGINS = "ganbench.plugins"
SUITE_ARTIFACT = "suite.yaml"


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"tuning": {"trials": 8}}`` to ``{"tuning.trials": 8}``; lists and scalars stay values."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def source_commit() -> str | None:
    """The git commit ganbench runs from (``<sha>-dirty`` when files differ from it), if it runs from a git
    checkout of its own; None for an installed package (whose folder may sit inside another repository)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):  # no git, or it hangs
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root:
        return None
    return git("describe", "--always", "--dirty", "--abbrev=40") or None


def suite_settings(suite: Any) -> dict[str, Any]:
    """The suite as it runs (after ``--quick`` and ``--seeds``), without what does not change its runs."""
    return suite.model_dump(mode="json", exclude={"description", "quick", "plugins"})


def describe_parent(store: Any, parent_id: str, suite: Any) -> None:
    """Record what ran on the suite's parent run (see the module's docstring).

    The params are the suite's settings, flattened (``steps``, ``tuning.trials``, ``models.points.width`` ...):
    the same suite key means the same settings, so a rerun logs the same values (MLflow refuses to change a
    param). Plugin paths, the version and the commit can change between reruns of one suite, so they are tags.
    """
    import yaml

    from ganbench import __version__

    settings = suite_settings(suite)
    params = {"suite": suite.name, "suite_key": suite.key()}
    # replicates can grow between reruns of one suite (it is not in the key): a tag (TAG_REPLICATES), not a param
    params |= {k: v for k, v in flatten(settings).items() if k not in ("name", "replicates")}
    tags = {TAG_VERSION: __version__}
    commit = source_commit()
    if commit:
        tags |= {TAG_COMMIT: commit, MLFLOW_COMMIT_TAG: commit.removesuffix("-dirty")}
    if suite.plugins:
        tags[TAG_PLUGINS] = ", ".join(suite.plugins)
    store.log(parent_id, params=params, tags=tags)
    with tempfile.TemporaryDirectory(prefix="ganbench-suite-") as tmp:
        path = Path(tmp) / SUITE_ARTIFACT
        header = f"# suite {suite.name} as ganbench {__version__} ran it (with --quick and --seeds applied)\n"
        plugins = {"plugins": list(suite.plugins)} if suite.plugins else {}
        body = {"name": suite.name, "description": suite.description, **plugins, **settings}
        path.write_text(header + yaml.safe_dump(body, sort_keys=False))
        store.log_artifact(parent_id, path)
