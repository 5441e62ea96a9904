"""The comparison report: numbers against the store read independently, significance marks on data whose answer
is known, every format written, the page rendered by Chromium, feature spaces never mixed."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from ganbench.cli import main
from ganbench.report import ReportError, ReportResult, build_report
from ganbench.report.frame import check_feature_spaces
from ganbench.report.stats import describe
from ganbench.tracking import MLflowStore, default_tracking_uri

ROOT = Path(__file__).resolve().parents[2]
STATS = ["n", "mean", "std", "median", "min", "max"]
TINY_SUITE = """
name: report_tiny
losses: [non_saturating, hinge]
strategies: [adam_dcgan]
datasets: [ring8]
seeds: 3
steps: 10
batch_size: 32
eval_every: 5
eval_samples: 300
models:
  points: {name: mlp, width: 16, depth: 2, latent_dim: 2}
"""


# ---------------------------------------------------------------------------------------------- a real tiny run
@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[MLflowStore, str, Path]:
    out = tmp_path_factory.mktemp("tiny")
    suite = out / "tiny.yaml"
    suite.write_text(TINY_SUITE)
    assert main(["run", "--suite", str(suite), "--out", str(out), "--no-progress"]) == 0
    store = MLflowStore(default_tracking_uri(out), "ganbench/report_tiny")
    parent = store.find_runs("tags.`ganbench.phase` = 'suite'")[0].info.run_id
    return store, parent, out


@pytest.fixture(scope="module")
def built(tiny: tuple[MLflowStore, str, Path]) -> ReportResult:
    store, parent, out = tiny
    return build_report(store, parent, out)


def _store_frame(out: Path) -> pd.DataFrame:
    """The final runs read with MLflow's own client, without ganbench's report code."""
    client = MlflowClient(default_tracking_uri(out))
    experiment = client.get_experiment_by_name("ganbench/report_tiny")
    runs = client.search_runs([experiment.experiment_id], "tags.`ganbench.phase` = 'final'")
    return pd.DataFrame(
        [
            {
                "loss": r.data.params["loss"],
                "seed": int(r.data.params["seed"]),
                "status": r.data.tags["ganbench.status"],
                **r.data.metrics,
            }
            for r in runs
        ]
    )


def test_statistics_match_the_store(built: ReportResult, tiny: tuple[MLflowStore, str, Path]) -> None:
    frame = _store_frame(tiny[2])
    assert len(frame) == 6 and set(frame["status"]) == {"finished"}, "the tiny run should finish every seed"
    for metric in ["fid_raw", "w1_raw", "best_w1_raw", "gap_w1_raw", "modes_covered", "kl_uniform", "grad_norm_d"]:
        expected = frame.groupby("loss")[metric].agg(["count", "mean", "std", "median", "min", "max"])
        expected = expected.rename(columns={"count": "n"}).sort_index()
        got = built.summary[built.summary["metric"] == metric].set_index("loss")[STATS].sort_index()
        pd.testing.assert_frame_equal(got, expected, check_names=False, check_dtype=False, rtol=1e-12)
    assert (built.summary["seeds"] == 3).all() and (built.summary["diverged"] == 0).all()


def test_ci_rank_and_marks_are_consistent(built: ReportResult) -> None:
    s = built.summary.dropna(subset=["ci_low"])
    assert ((s["ci_low"] <= s["mean"] + 1e-12) & (s["mean"] <= s["ci_high"] + 1e-12)).all()
    fid = built.summary[built.summary["metric"] == "fid_raw"].set_index("loss")
    expected_rank = fid["mean"].rank(method="min")
    pd.testing.assert_series_equal(fid["rank"], expected_rank, check_names=False)
    assert fid.loc[fid["mean"].idxmin(), "best"] and fid.loc[fid["mean"].idxmin(), "vs_best"] == "best"
    assert set(fid["unit"]) == {"seed"} and (fid["replicates"] == 1).all()  # one replicate: seeds are the unit
    assert fid["p_best"].sum() == pytest.approx(1.0)
    # one replicate: the report says plainly that the tuning's variance is unmeasured
    (unmeasured,) = [f for f in built.findings if f.kind == "tuning_variance"]
    assert "conditional on one tuning draw" in unmeasured.detail
    assert any("The tuning's variance is unmeasured" in line for line in built.headline)


def test_rebuilding_gives_the_same_tables(built: ReportResult, tiny: tuple[MLflowStore, str, Path]) -> None:
    store, parent, out = tiny
    again = build_report(store, parent, out)
    pd.testing.assert_frame_equal(again.summary, built.summary)


def test_every_format_is_written(built: ReportResult, tiny: tuple[MLflowStore, str, Path]) -> None:
    report_dir = tiny[2] / "report"
    assert set(built.files) == {"csv", "runs_csv", "markdown", "latex", "html"}
    for path in built.paths:
        assert path.parent in (report_dir, report_dir / "figures") and path.stat().st_size > 0, path
    csv = pd.read_csv(built.files["csv"])
    np.testing.assert_allclose(csv["mean"], built.summary["mean"].to_numpy(dtype=float), rtol=1e-12)
    assert len(pd.read_csv(built.files["runs_csv"])) == 6
    md = built.files["markdown"].read_text()
    assert "## ring8" in md and "| non_saturating |" in md and "figures/ring8_curves.png" in md
    tex = built.files["latex"].read_text()
    assert all(rule in tex for rule in ("\\toprule", "\\midrule", "\\bottomrule")) and "non\\_saturating" in tex
    page = built.files["html"].read_text()
    assert page.count("data:image/png;base64,") == len(built.figures) and "http" not in page
    assert {p.name for p in built.figures} == {"ring8_curves.png", "ring8_samples.png", "cd_diagram.png"}
    # the report opens with the verdict and the warnings, then the overall ranking
    assert md.index(
        "- ring8 (w1_raw, lower is better; 1 replicate × 3 seeds: conditional on one tuning draw"
    ) < md.index("**Validity**")
    assert md.index("tuning variance unmeasured (one replicate)") < md.index("## Overall ranking")
    assert "| real data " in md  # what real samples score closes the table
    assert page.index('<ul class="verdict">') < page.index("<h2>Overall ranking</h2>") < page.index("<h2>ring8")


def test_validity_is_tagged_on_the_suite_run(built: ReportResult, tiny: tuple[MLflowStore, str, Path]) -> None:
    store, parent, _ = tiny
    tags = store.client.get_run(parent).data.tags
    assert tags["ganbench.report.validity"] == "warnings"
    assert tags["ganbench.report.validity.tuning_variance"] == "ring8: all"
    assert tags["ganbench.tuning_variance"].startswith("unmeasured")
    assert built.primary == {"ring8": "w1_raw"} and built.modes == {"ring8": 8}


def test_console_view_shows_the_headline(built: ReportResult) -> None:
    from rich.console import Console

    from ganbench.report.terminal import print_summary

    console = Console(width=200, record=True, file=io.StringIO())
    print_summary(built, console)
    text = console.export_text()
    assert "ring8" in text and "non_saturating" in text and "w1_raw" in text and "report.html" in text
    assert built.headline[0] in " ".join(text.split()) or "Verdict" in text
    assert max(len(line) for line in text.splitlines()) <= 80


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_page_renders_in_chromium(built: ReportResult, tmp_path: Path) -> None:
    import matplotlib.image

    png = tmp_path / "report.png"
    script = ROOT / "scripts" / "screenshot_report.py"
    proc = subprocess.run(
        [sys.executable, str(script), str(built.files["html"]), str(png)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    pixels = matplotlib.image.imread(png)
    assert pixels.shape[:2] == (2000, 1400)
    assert pixels[..., :3].std() > 0.05  # not a blank page


# ---------------------------------------------------------------------------------------------- constructed data
def _frame(
    values: dict[str, list[float]],
    seeds: dict[str, list[int]] | None = None,
    metric: str = "fid_raw",
    replicates: dict[str, list[int]] | None = None,
) -> pd.DataFrame:
    rows = []
    for loss, vals in values.items():
        reps = (replicates or {}).get(loss, [0] * len(vals))
        for seed, v, r in zip((seeds or {}).get(loss, range(len(vals))), vals, reps):
            rows.append(
                {
                    "dataset": "ring8",
                    "loss": loss,
                    "strategy": "adam",
                    "contender": f"{loss}|adam|ring8",
                    "replicate": r,
                    "seed": seed,
                    "status": "diverged" if np.isnan(v) else "finished",
                    "feature_space": None,
                    "run_id": f"{loss}-{seed}",
                    metric: v,
                    "diverged": float(np.isnan(v)),
                }
            )
    return pd.DataFrame(rows)


BEST = [1.00, 1.05, 1.10, 1.15, 1.20, 1.25, 1.30, 1.35]
SAME = [1.36, 1.01, 1.21, 1.06, 1.31, 1.11, 1.26, 1.16]  # BEST shuffled (+0.01): the same distribution
WORSE = [2.0, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7]


def _marks(frame: pd.DataFrame, metric: str = "fid_raw", rope: float = 0.0) -> pd.DataFrame:
    out = describe(frame, {("ring8", metric): rope})
    return out[out["metric"] == metric].set_index("loss")


def test_best_undecided_and_worse_are_marked_paired_by_seed() -> None:
    marks = _marks(_frame({"best": BEST, "same": SAME, "worse": WORSE}), rope=0.05)
    assert set(marks["unit"]) == {"seed"}
    assert marks.loc["best", "best"] and marks.loc["best", "vs_best"] == "best"
    assert marks.loc["same", "vs_best"] == "undecided"  # shuffled: its paired differences swing by ±0.3
    assert marks.loc["worse", "vs_best"] == "worse" and not marks.loc["worse", "equivalent_to_best"]
    # the probability is the one-sided paired t-test of the seed differences against the ROPE's edge
    expected = stats_ttest([w - b for w, b in zip(WORSE, BEST)], 0.05)
    np.testing.assert_allclose(1 - marks.loc["worse", "p_worse"], expected, rtol=1e-6, atol=1e-15)
    assert marks["rank"].to_dict() == {"best": 1, "same": 2, "worse": 3}


def stats_ttest(d: list[float], edge: float) -> float:
    from scipy import stats

    return float(stats.ttest_1samp(d, edge, alternative="greater").pvalue)


def test_a_difference_inside_the_rope_is_equivalent() -> None:
    near = [b + 0.01 for b in BEST]  # every seed 0.01 worse: practically equivalent at a ROPE of 0.05
    marks = _marks(_frame({"best": BEST, "near": near}), rope=0.05)
    assert marks.loc["near", "vs_best"] == "equivalent" and marks.loc["near", "equivalent_to_best"]
    assert _marks(_frame({"best": BEST, "near": near}), rope=0.0).loc["near", "vs_best"] == "worse"


def test_higher_is_better_metrics_pick_the_largest() -> None:
    frame = _frame({"many": [8, 8, 7, 8, 8, 8, 7, 8], "few": [1, 2, 1, 1, 2, 1, 1, 2]}, metric="modes_covered")
    marks = _marks(frame, "modes_covered")
    assert marks.loc["many", "best"] and marks.loc["few", "vs_best"] == "worse"


def test_replicates_are_the_unit_when_there_are_several() -> None:
    """Three replicates of four seeds: the decision rests on the three replicate means, so a contender that is
    worse in every seed of two replicates but better in the third stays undecided."""
    reps = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    best = [1.0] * 12
    mixed = [1.5] * 8 + [0.8] * 4
    marks = _marks(
        _frame(
            {"best": best, "mixed": mixed},
            replicates={"best": reps, "mixed": reps},
            seeds={"best": list(range(12)), "mixed": list(range(12))},
        )
    )
    assert set(marks["unit"]) == {"replicate"} and (marks["replicates"] == 3).all()
    assert marks.loc["mixed", "vs_best"] == "undecided"
    np.testing.assert_allclose(marks.loc["mixed", "mean"], np.mean([1.5, 1.5, 0.8]))


def test_unshared_seeds_cannot_be_paired() -> None:
    seeds = {"best": list(range(8)), "worse": list(range(20, 28))}
    marks = _marks(_frame({"best": BEST, "worse": WORSE}, seeds))
    assert marks.loc["worse", "vs_best"] == "undecided"  # no seed in common: no paired unit to judge by


def test_a_diverged_seed_counts_as_the_worst_value_of_the_dataset() -> None:
    worse = [np.nan, *WORSE[1:]]  # seed 0 diverged: it counts as the worst value any run reached (2.7)
    marks = _marks(_frame({"best": BEST, "worse": worse}))
    assert marks.loc["worse", "n"] == 8
    np.testing.assert_allclose(marks.loc["worse", "mean"], np.mean([2.7, *WORSE[1:]]))


# ---------------------------------------------------------------------------------------------- feature spaces
def test_metrics_from_two_feature_spaces_are_refused() -> None:
    frame = pd.concat([_frame({"a": [1.0, 1.1]}), _frame({"b": [1.0, 1.1]}, metric="fid_domain")])
    with pytest.raises(ReportError, match=r"fid on ring8 .*different feature spaces \(domain vs raw\)"):
        check_feature_spaces(frame)


def test_disagreeing_declared_feature_spaces_are_refused() -> None:
    frame = _frame({"a": [1.0, 1.1], "b": [1.0, 1.2]})
    frame["feature_space"] = ["raw", "raw", "raw", "domain"]
    with pytest.raises(
        ReportError, match=r"fid_raw on ring8: the runs declare different feature spaces \(domain, raw\)"
    ):
        check_feature_spaces(frame)


def test_one_space_per_run_is_accepted() -> None:
    check_feature_spaces(_frame({"a": [1.0, 1.1], "b": [1.0, 1.2]}).assign(feature_space="raw"))


# ---------------------------------------------------------------------------------------------- written stores
@pytest.fixture
def store(tiny: tuple[MLflowStore, str, Path], request: pytest.FixtureRequest) -> MLflowStore:
    """A fresh experiment in the tiny run's database (creating another MLflow database costs seconds)."""
    out = tiny[2]
    return MLflowStore(default_tracking_uri(out), f"written/{request.node.name}", artifact_dir=out / "written")


def _child(
    store: MLflowStore,
    parent: str,
    key: str,
    phase: str,
    contender: str,
    params: dict,
    metrics: dict[str, float],
    status: str = "finished",
    tags: dict | None = None,
) -> str:
    run_id = store.child_run(
        parent, key, key, params, {"ganbench.phase": phase, "ganbench.contender": contender, **(tags or {})}
    )
    store.log(run_id, metrics=metrics, step=10)
    store.finish(run_id, status)
    return run_id


def test_build_report_refuses_mixed_spaces_from_a_store(store: MLflowStore, tmp_path: Path) -> None:
    parent = store.parent_run("mixed", "k")
    for i, (loss, metric) in enumerate([("hinge", "fid_raw"), ("lsgan", "fid_domain")]):
        params = {"dataset": "ring8", "loss": loss, "strategy": "adam_dcgan", "seed": i}
        _child(store, parent, f"r{i}", "final", f"{loss}|adam_dcgan|ring8", params, {metric: 1.0})
    with pytest.raises(ReportError, match=r"fid on ring8 .*\(domain vs raw\)"):
        build_report(store, parent, tmp_path)


def test_diverged_runs_and_the_tuning_budget(store: MLflowStore, tmp_path: Path) -> None:
    parent = store.parent_run("tuned", "k")
    # the study runs as tuning leaves them: the contender, the objective, and the best-so-far curve
    for loss, curve in {"hinge": [3.0, 3.0, 1.0, 1.0], "lsgan": [2.0, 2.0, 1.5]}.items():
        study = store.client.create_run(
            store.experiment_id,
            tags={
                "mlflow.parentRunId": parent,
                "ganbench.phase": "study",
                "ganbench.contender": f"{loss}|adam_dcgan|ring8",
            },
        ).info.run_id
        store.log(study, params={"objective": "fid_raw", "search_space": "lr_g log [0.0001, 0.01]"})
        for i, value in enumerate(curve, start=1):
            store.log(study, metrics={"best_so_far": value}, step=i)
        store.finish(study, "finished")
    for loss, status in [("hinge", "finished"), ("hinge", "diverged"), ("lsgan", "finished"), ("lsgan", "failed")]:
        seed = 0 if status == "finished" else 1
        params = {"dataset": "ring8", "loss": loss, "strategy": "adam_dcgan", "seed": seed, "eval.feature_space": "raw"}
        _child(
            store,
            parent,
            f"{loss}-{seed}",
            "final",
            f"{loss}|adam_dcgan|ring8",
            params,
            {"fid_raw": 1.0, "best_fid_raw": 0.9, "diverged": float(status == "diverged")},
            status,
        )

    result = build_report(store, parent, tmp_path)
    assert (result.runs["feature_space"] == "raw").all()  # read from the evaluator protocol's param
    hinge = result.runs[result.runs["loss"] == "hinge"].set_index("seed")
    assert np.isnan(hinge.loc[1, "fid_raw"]) and hinge.loc[1, "best_fid_raw"] == 0.9  # diverged: final is NaN
    # ... and in the statistics it counts as the worst value any run reached on the dataset
    fid = result.summary[result.summary["metric"] == "fid_raw"].set_index("loss")
    assert fid.loc["hinge", "seeds"] == 2 and fid.loc["hinge", "n"] == 2 and fid.loc["hinge", "diverged"] == 0.5
    assert fid.loc["lsgan", "seeds"] == 1  # the failed run is left out, and the report says so
    assert result.notes["ring8"] == [
        "Evaluation: metrics on the raw 2-D coordinates.",
        "1 run left out of the statistics: failed",
    ]
    assert [f.kind for f in result.findings if f.kind == "tuning_variance"] == ["tuning_variance"]
    assert "tuned" in result.files["html"].read_text()
    # one budget figure per dataset, drawn from the studies' logged curves and embedded in the report
    assert [p.name for p in result.figures if "tuning" in p.name] == ["ring8_tuning.png"]
    assert not list((tmp_path / "report").glob("tuning_budget_*.png"))
    assert "lr_g log [0.0001, 0.01]" in result.files["markdown"].read_text()  # the Tuning section


def test_a_suite_whose_runs_all_failed_still_gets_a_report(store: MLflowStore, tmp_path: Path) -> None:
    parent = store.parent_run("failed", "k")
    params = {"dataset": "grid25", "loss": "hinge", "strategy": "adam_dcgan", "seed": 0}
    _child(store, parent, "f0", "final", "hinge|adam_dcgan|grid25", params, {}, "failed")
    result = build_report(store, parent, tmp_path)
    assert result.summary.empty and result.figures == []
    assert result.notes == {"grid25": ["1 run left out of the statistics: failed"]}
    assert "left out of the statistics: failed" in result.files["html"].read_text()


def test_no_final_runs_is_a_clear_error(store: MLflowStore, tmp_path: Path) -> None:
    parent = store.parent_run("empty", "k")
    with pytest.raises(ReportError, match="holds no final runs yet"):
        build_report(store, parent, tmp_path)


def test_a_strategy_named_like_a_mark_is_not_styled_as_one() -> None:
    from ganbench.report.writers import _flat_marks

    index = pd.MultiIndex.from_tuples([("hinge", "tied"), ("hinge", "best")], names=["loss", "strategy"])
    marks = pd.DataFrame({"w1_raw": ["best", ""]}, index=index)
    flat = _flat_marks(marks)
    assert flat["strategy"].tolist() == ["", ""] and flat["loss"].tolist() == ["", ""]
    assert flat["w1_raw"].tolist() == ["best", ""]


def test_a_mode_count_interval_ends_at_the_datasets_number_of_modes() -> None:
    """DRAGAN's ring8 modes of the replicated study, 8, 8 and 5.5 of 8: the t interval reached 10.75 modes."""
    frame = _frame(
        {"a": [8.0, 8.0, 5.5], "b": [8.0, 8.0, 8.0]},
        metric="modes_covered",
        replicates={"a": [0, 1, 2], "b": [0, 1, 2]},
    )
    frame["modes"] = 8
    marks = _marks(frame, metric="modes_covered")
    assert marks.loc["a", "ci_high"] == 8.0 and marks.loc["a", "ci_low"] < 5.5
    frame["modes"] = None  # unknown (an image set without a mode classifier): only the metric's own floor
    assert _marks(frame, metric="modes_covered").loc["a", "ci_high"] > 8.0


def test_each_dataset_says_how_it_was_evaluated() -> None:
    """Sample count, resolution, a domain feature space named as not comparable with papers (with its
    classifier's held-out accuracy), and how the modes were read; points: the raw coordinates."""
    from ganbench.report.frame import evaluation_notes

    runs = pd.DataFrame(
        [
            {
                "dataset": "stacked_digits",
                "feature_space": "domain",
                "eval_samples": 10000.0,
                "image_size": 8.0,
                "classifier_accuracy": 0.9777,
                "classifier_test_size": 449.0,
                "modes": 1000,
                "mode_label_accuracy": 0.9347,
            },
            {
                "dataset": "ring8",
                "feature_space": "raw",
                "eval_samples": 2500.0,
                "image_size": np.nan,
                "classifier_accuracy": np.nan,
                "classifier_test_size": np.nan,
                "modes": 8,
                "mode_label_accuracy": np.nan,
            },
        ]
    )
    notes = evaluation_notes(runs)
    assert notes["stacked_digits"] == [
        "Evaluation: 10,000 samples per evaluation; images at 8×8; FID, KID, precision and recall in a domain "
        "feature space (ganbench's own digit classifier, 97.8% accurate on 449 held-out images), not "
        "Inception's: not comparable with published values; 1,000 modes, read by that classifier (93.5% of "
        "held-out real samples read right)."
    ]
    assert notes["ring8"] == ["Evaluation: 2,500 samples per evaluation; metrics on the raw 2-D coordinates; 8 modes."]


def test_a_main_table_cell_wraps_only_between_its_mean_and_its_interval() -> None:
    from ganbench.report.writers import _one_break

    assert _one_break("1.58 [1.48, 1.67]") == "1.58 [1.48,\u00a01.67]"
    assert _one_break("0.03 ± 0.001") == "0.03\u00a0±\u00a00.001"
    assert _one_break("best") == "best"
