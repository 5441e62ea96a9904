from __future__ import annotations

import pytest

from ganbench.suite import SuiteError, bundled_suites, load_suite
from tests.conftest import TINY_SUITE, write_suite


def test_bundled_suites_validate():
    assert {"losses", "smoke"} <= set(bundled_suites())
    for name in bundled_suites():
        suite = load_suite(name)
        assert suite.name == name
        assert load_suite(name, quick=True).steps <= suite.steps


def test_losses_suite_covers_all_ten_losses_on_both_mixtures_in_three_replicates_with_fresh_seeds():
    from ganbench.losses import LOSSES

    suite = load_suite("losses")
    assert {entry.name for entry in suite.losses} == set(LOSSES.names())
    assert {"ring8", "grid25"} <= set(suite.datasets)
    # the tuning's variance is measured: 3 replicates, each with a seed of its own (shared by the contenders), and
    # a tuning that learns (the sampler sees a batch's outcomes before it asks the next)
    assert suite.replicates >= 3 and len(suite.seed_list) >= 1
    assert suite.tuning is not None and suite.tuning.batch < (suite.tuning.trials or 0)
    seeds = [s for r in range(suite.replicates) for s in suite.seeds_of(r)]
    assert len(set(seeds)) == len(seeds)
    assert suite.tuning is not None and suite.tuning.steps in (None, suite.steps)  # tuned at the final horizon


def test_same_suite_same_key_and_quick_changes_it(tmp_path):
    path = write_suite(tmp_path / "s.yaml", TINY_SUITE)
    assert load_suite(str(path)).key() == load_suite(str(path)).key()
    assert load_suite(str(path)).key() != load_suite(str(path), overrides={"steps": 20}).key()


@pytest.mark.parametrize(
    "override,message",
    [
        ({"losses": ["nope"]}, "key 'losses': unknown loss 'nope'; valid: dragan, feature_matching"),
        ({"lr_g": -1e-3}, "key 'lr_g': Input should be greater than 0 (got -0.001)"),
        ({"seeds": 0}, "key 'seeds': Input should be greater than 0 (got 0)"),
        ({"strategies": ["adamw"]}, "key 'strategies': unknown strategy 'adamw'; valid: adam_dcgan"),
        ({"datasets": ["mnst"]}, "key 'datasets': unknown dataset 'mnst'; valid:"),
        ({"stepz": 3}, "unknown key 'stepz'; valid: batch_size, compile, datasets"),
        (
            {"losses": [{"name": "lsgan", "params": {"q": 1}}]},
            "key 'losses.0': loss 'lsgan' has no parameter 'q'; valid: a, b, c",
        ),
        ({"eval_every": 100}, "eval_every must not exceed steps"),
        ({"lr_decay_from": 1.0}, "key 'lr_decay_from': Input should be less than 1"),
        ({"lr_decay_from": -0.5}, "key 'lr_decay_from': Input should be greater than or equal to 0"),
        ({"tuning": {"trials": 2, "beta1": [0.5, 1.5]}}, "key 'tuning.beta1': beta1 values must be in [0, 1)"),
        ({"tuning": {"trials": 2, "beta1": []}}, "key 'tuning.beta1': give at least one beta1 value"),
        ({"tuning": {"trials": 2, "n_critic": []}}, "key 'tuning.n_critic': n_critic must list distinct D steps"),
        ({"tuning": {"trials": 2, "n_critic": [1, 0]}}, "key 'tuning.n_critic.1': Input should be greater than 0"),
        ({"tuning": {"trials": 2, "warmup": 1.0}}, "key 'tuning.warmup': Input should be less than 1"),
        ({"tuning": {"trials": 2, "pruner": "hyperband"}}, "key 'tuning.pruner': Input should be 'median'"),
        ({"compile": "fast"}, "key 'compile': Input should be 'none', 'default' or 'reduce-overhead' (got 'fast')"),
    ],
)
def test_bad_values_name_the_key(tmp_path, override, message):
    path = write_suite(tmp_path / "s.yaml", TINY_SUITE)
    with pytest.raises(SuiteError) as err:
        load_suite(str(path), overrides=override)
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_malformed_yaml_names_the_line(tmp_path):
    path = write_suite(tmp_path / "bad.yaml", "name: x\nlosses: [hinge\ndatasets: [ring8]\n")
    with pytest.raises(SuiteError, match=r"bad.yaml: line \d+ malformed YAML"):
        load_suite(str(path))


def test_unknown_suite_lists_bundled_ones():
    with pytest.raises(SuiteError, match="unknown suite 'nope'; valid: .*losses.*smoke"):
        load_suite("nope")


def test_yaml_cannot_name_python_objects(tmp_path):
    path = write_suite(tmp_path / "evil.yaml", "name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(SuiteError, match="malformed YAML"):
        load_suite(str(path))


def test_run_config_of_an_external_dataset_needs_no_files(tmp_path):
    """Planning a run does not read the data: an mnist suite plans before --data-dir is even looked at."""
    from ganbench.data import dataset_kind
    from ganbench.plan import contenders, run_config

    path = write_suite(tmp_path / "s.yaml", TINY_SUITE.replace("datasets: [ring8]", "datasets: [mnist, ring8]"))
    suite = load_suite(str(path))
    configs = {c.dataset: run_config(suite, c) for c in contenders(suite)}
    assert configs["mnist"].model.name == "dcgan" and configs["ring8"].model.name == "mlp"
    assert dataset_kind("grid25") == "points" and dataset_kind("polygons") == "image"


def test_a_suite_that_leaves_seeds_out_gets_three_with_or_without_tuning():
    base = {"name": "s", "losses": ["hinge"], "datasets": ["ring8"]}
    assert load_suite(base).seed_list == [0, 1, 2]
    tuned = load_suite({**base, "tuning": {"trials": 2}, "replicates": 2})
    assert tuned.seeds_of(1) == [3, 4, 5]
