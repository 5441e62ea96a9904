"""A researcher's own loss, strategy or dataset in one file: loading, the contract check, re-registration, and
plugins reaching worker processes."""

from __future__ import annotations

import importlib.util
import textwrap

import pandas as pd
import pytest

from ganbench import plugins
from ganbench.cli import main
from ganbench.contract import ContractError, check_loss
from ganbench.losses import LOSSES
from ganbench.registry import RegistryError
from ganbench.strategies import STRATEGIES

PLUGIN_LOSS = """
import torch.nn.functional as F
from ganbench import LossTerms, register_loss

@register_loss("{name}")
def my_loss(d_real, d_fake):
    real, fake = F.softplus(-d_real).mean(dim=-1), F.softplus(d_fake).mean(dim=-1)
    return LossTerms(real + fake, F.softplus(-d_fake).mean(dim=-1), real, fake)
"""

SUITE = """
name: {suite}
plugins: [{plugin}]
losses: [{name}, hinge]
strategies: [adam_dcgan]
datasets: [ring8]
seeds: 2
steps: 40
batch_size: 32
eval_every: 20
eval_samples: 200
models:
  points: {{name: mlp, width: 16, depth: 2, latent_dim: 2}}
tuning: {{trials: 2, batch: 2, lr_min: 1.0e-4, lr_max: 1.0e-2, pruner: none}}
"""


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    "executor",
    [
        "local",
        "processes",
        pytest.param(
            "ray", marks=pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray not installed")
        ),
    ],
)
def test_plugin_loss_goes_through_tuning_final_seeds_and_report(tmp_path, clean_registries, executor):
    name = f"plugin_ns_{executor}"
    (tmp_path / "my_loss.py").write_text(PLUGIN_LOSS.format(name=name))
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(suite=f"plug_{executor}", plugin="my_loss.py", name=name))
    out = tmp_path / "out"
    args = ["run", "--suite", str(suite), "--out", str(out), "--no-progress", "--executor", executor]
    assert main(args) == 0
    runs = pd.read_csv(out / "report" / "runs.csv")
    mine = runs[runs["loss"] == name]
    assert len(mine) == 2 and set(mine["status"]) == {"finished"}  # both final seeds trained, in workers too
    summary = pd.read_csv(out / "report" / "summary.csv")
    assert name in set(summary["loss"])
    tuning = pd.read_csv(out / "report" / "tuning.csv")
    assert (tuning.loc[tuning["loss"] == name, "finished"] == 2).all()


def test_plugin_from_the_command_line(tmp_path, clean_registries, capsys):
    (tmp_path / "cli_loss.py").write_text(PLUGIN_LOSS.format(name="cli_loss"))
    assert main(["list", "losses", "--plugin", str(tmp_path / "cli_loss.py")]) == 0
    assert "cli_loss" in capsys.readouterr().out.split()


def _contract_suite(tmp_path, body: str) -> list[str]:
    (tmp_path / "bad_loss.py").write_text(textwrap.dedent(body))
    suite = tmp_path / "s.yaml"
    suite.write_text("name: c\nplugins: [bad_loss.py]\nlosses: [bad]\ndatasets: [ring8]\n")
    return ["run", "--suite", str(suite), "--out", str(tmp_path / "out")]


CONTRACT_CASES = {
    "shape": (
        "d_loss has shape []",
        """
        from ganbench import LossTerms, register_loss
        @register_loss("bad")
        def bad(d_real, d_fake):
            return LossTerms(d_real.mean(), d_fake.mean(), d_real.mean(), d_fake.mean())
        """,
    ),
    "nan": (
        "d_loss is not finite",
        """
        import torch
        from ganbench import LossTerms, register_loss
        @register_loss("bad")
        def bad(d_real, d_fake):
            d = torch.log(d_real - 1e9).mean(-1) + d_fake.mean(-1)
            return LossTerms(d, -d_fake.mean(-1), d, d)
        """,
    ),
    "detached": (
        "d_loss does not depend on the real scores",
        """
        from ganbench import LossTerms, register_loss
        @register_loss("bad")
        def bad(d_real, d_fake):
            d = -d_real.detach().mean(-1) + d_fake.mean(-1)
            return LossTerms(d, -d_fake.mean(-1), d, d)
        """,
    ),
    "g_detached": (
        "g_loss does not depend on the fake scores",
        """
        from ganbench import LossTerms, register_loss
        @register_loss("bad")
        def bad(d_real, d_fake):
            d = -d_real.mean(-1) + d_fake.mean(-1)
            return LossTerms(d, -d_fake.detach().mean(-1), d, d)
        """,
    ),
}


@pytest.mark.parametrize("case", sorted(CONTRACT_CASES))
def test_contract_violation_exits_2_naming_file_loss_and_problem(tmp_path, clean_registries, capsys, case):
    problem, body = CONTRACT_CASES[case]
    with pytest.raises(SystemExit) as exc:
        main(_contract_suite(tmp_path, body))
    assert exc.value.code == 2
    line = _one_error_line(capsys)
    assert "loss 'bad'" in line and str(tmp_path / "bad_loss.py") in line and problem in line, line
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_bundled_losses_keep_the_contract():
    for name in [*LOSSES.names(), "hinge+r1"]:
        check_loss(name)  # raises ContractError on a violation


def test_contract_catches_a_loss_that_raises(clean_registries):
    from ganbench import register_loss

    @register_loss("raises_here")
    def raises_here(d_real, d_fake):
        raise ZeroDivisionError("oops")

    with pytest.raises(ContractError, match="raised ZeroDivisionError: oops"):
        check_loss("raises_here")


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "plugin file {path} does not exist"),
        ("raise RuntimeError('boom')\n", "plugin file {path}: raised on import: RuntimeError: boom"),
        ("def broken(:\n", "plugin file {path}: syntax error at line 1"),
        ("import no_such_module_xyz\n", "ModuleNotFoundError: No module named 'no_such_module_xyz'"),
    ],
)
def test_broken_or_missing_plugin_file_exits_2_with_one_line(tmp_path, clean_registries, capsys, content, message):
    path = tmp_path / "plug.py"
    if content is not None:
        path.write_text(content)
    suite = tmp_path / "s.yaml"
    suite.write_text("name: b\nplugins: [plug.py]\nlosses: [hinge]\ndatasets: [ring8]\n")
    with pytest.raises(SystemExit) as exc:
        main(["run", "--suite", str(suite), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    assert message.format(path=path) in _one_error_line(capsys)
    with pytest.raises(SystemExit) as exc:  # the same from the command line
        main(["list", "losses", "--plugin", str(path)])
    assert exc.value.code == 2 and message.format(path=path) in _one_error_line(capsys)


def test_unknown_plugin_module_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["list", "losses", "--plugin", "no_such_plugin_module"])
    assert exc.value.code == 2
    assert "plugin module 'no_such_plugin_module' cannot be imported" in _one_error_line(capsys)


def test_registering_again_from_the_same_module_replaces(clean_registries):
    """A notebook cell run twice registers the same name from the same module: the second replaces the first."""
    namespace = {"__name__": "__main__"}
    cell = "from ganbench import LossTerms, register_loss\n@register_loss('cell_loss')\ndef f(d_real, d_fake):\n    return {n}\n"  # noqa: E501
    exec(cell.format(n=1), namespace)  # noqa: S102
    first = LOSSES.get("cell_loss").fn
    exec(cell.format(n=2), namespace)  # noqa: S102
    assert LOSSES.get("cell_loss").fn is not first and LOSSES.get("cell_loss").fn(None, None) == 2


def test_a_plugin_file_loaded_again_after_an_edit_replaces_its_entries(tmp_path, clean_registries):
    path = tmp_path / "twice.py"
    path.write_text(PLUGIN_LOSS.format(name="twice_loss"))
    plugins.load_plugin(str(path))
    first = LOSSES.get("twice_loss")
    plugins.load_plugin(str(path))  # unchanged: loaded once
    assert LOSSES.get("twice_loss") is first
    path.write_text(PLUGIN_LOSS.format(name="twice_loss").replace("F.softplus(-d_fake)", "-d_fake"))
    plugins.load_plugin(str(path))  # edited: run again, replacing its entry
    assert LOSSES.get("twice_loss") is not first
    assert len([s for s in plugins.loaded() if s.label == str(path)]) == 1


def test_another_module_cannot_take_a_registered_name(tmp_path, clean_registries):
    (tmp_path / "a.py").write_text(PLUGIN_LOSS.format(name="taken"))
    (tmp_path / "b.py").write_text(PLUGIN_LOSS.format(name="taken"))
    plugins.load_plugin(str(tmp_path / "a.py"))
    with pytest.raises(plugins.PluginError, match="loss 'taken' is already registered"):
        plugins.load_plugin(str(tmp_path / "b.py"))
    (tmp_path / "c.py").write_text(PLUGIN_LOSS.format(name="hinge"))
    with pytest.raises(plugins.PluginError, match="loss 'hinge' is already registered .by ganbench.losses"):
        plugins.load_plugin(str(tmp_path / "c.py"))


def test_strategy_and_dataset_plugins(tmp_path, clean_registries):
    (tmp_path / "more.py").write_text(
        textwrap.dedent("""
        import torch
        from ganbench import GaussianMixture, Strategy, register_dataset, register_strategy

        register_strategy(Strategy("my_adam", "adam", lr_g=1e-3, lr_d=1e-3, beta1=0.0))

        @register_dataset("line3", kind="points")
        def line3(options):
            means = torch.tensor([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
            return GaussianMixture("line3", means, 0.02)
        """)
    )
    plugins.load_plugin(str(tmp_path / "more.py"))
    assert STRATEGIES.get("my_adam").beta1 == 0.0 and STRATEGIES.is_plugin("my_adam")
    from ganbench.data import dataset_kind, load_dataset

    assert dataset_kind("line3") == "points" and load_dataset("line3").num_modes == 3
    with pytest.raises(ValueError, match="kind must be 'points' or 'image'"):
        from ganbench import register_dataset

        register_dataset("x", kind="audio")


def test_a_loss_only_registered_in_a_notebook_is_refused_for_worker_processes(tmp_path, clean_registries, capsys):
    namespace = {"__name__": "__main__"}
    exec(PLUGIN_LOSS.format(name="notebook_loss"), namespace)  # noqa: S102
    from ganbench.api import run_suite

    suite = {
        "name": "nb",
        "losses": ["notebook_loss"],
        "datasets": ["ring8"],
        "seeds": 1,
        "steps": 10,
        "eval_every": 10,
        "eval_samples": 100,
        "batch_size": 16,
    }
    with pytest.raises(plugins.PluginError, match="registered in __main__ .* put it in a .py file"):
        run_suite(suite, out=tmp_path / "out", executor="processes", progress=False)


def test_registry_names_cannot_hold_separators(clean_registries):
    with pytest.raises(RegistryError, match="without '|' or '\\+'"):
        LOSSES.add("a|b", object(), origin="x")
