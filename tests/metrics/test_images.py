"""Image metrics: torch-fidelity's FID/KID/precision-recall on known features, the domain classifier and its
held-out accuracy, mode coverage on stacked digits at 10,000 samples, the image evaluator (its reference, the
real-data row, a one-class set), and the inception space."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from ganbench.data import DataOptions, load_dataset
from ganbench.data.images import ImageDataset, to_uint8, to_unit_range
from ganbench.metrics import (
    KL_UNIFORM,
    MODES_COVERED,
    fid_key,
    is_higher_better,
    is_key,
    kid_key,
    precision_key,
    recall_key,
)
from ganbench.metrics.domain import (
    EXTRACTOR,
    classifier_path,
    domain_extractor,
    extract,
    holdout_split,
    predict,
    train_classifier,
)
from ganbench.metrics.evaluate import create_evaluator
from ganbench.metrics.fid import fid_statistics
from ganbench.metrics.images import ImageEvaluator, feature_metrics, inception_weights_path

EIGHT = DataOptions(image_size=8)


def _gaussian(n: int = 4000, d: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.randn(d, d, generator=g, dtype=torch.float64)


# ------------------------------------------------------------------------------------------ feature-level metrics
def test_fid_of_a_set_with_itself_is_zero():
    x = _gaussian()
    out = feature_metrics(x, x, "domain", metrics=("fid",))
    assert_close(out[fid_key("domain")], 0.0, atol=1e-6, rtol=0)


def test_fid_of_a_shifted_set_is_the_squared_shift():
    """Equal covariances: FID = ||mu1 - mu2||^2 + Tr(S + S - 2 (S S)^1/2) = ||shift||^2."""
    x = _gaussian()
    shift = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    out = feature_metrics(x + shift, x, "raw", metrics=("fid",))
    assert_close(out[fid_key("raw")], float(shift @ shift), atol=1e-4, rtol=1e-6)


def test_kid_precision_recall_on_identical_and_disjoint_sets():
    x = torch.randn(1200, 8, generator=torch.Generator().manual_seed(0))
    same = feature_metrics(x, x, "domain", kid_subsets=5)
    assert_close(same[kid_key("domain")], 0.0, atol=0.02, rtol=0)  # unbiased estimate: noise around 0
    assert_close(same[precision_key("domain")], 1.0)  # every sample lies in its own neighbourhood ball
    assert_close(same[recall_key("domain")], 1.0)
    far = feature_metrics(x + 1e3, x, "domain", kid_subsets=5)
    assert_close(far[precision_key("domain")], 0.0)
    assert_close(far[recall_key("domain")], 0.0)
    assert far[kid_key("domain")] > 100 * abs(same[kid_key("domain")])


# ------------------------------------------------------------------------------------------ domain classifier
@pytest.mark.slow
@pytest.mark.parametrize("size", [28, 32])
def test_domain_classifier_reaches_95_percent_on_held_out_digits(size):
    from ganbench.data import DataOptions

    ds = load_dataset("digits", DataOptions(image_size=size))
    extractor = domain_extractor(ds)
    _, test_idx = holdout_split(len(ds))
    logits = extract(extractor, ds.images_at(test_idx))["logits"]
    accuracy = float((extractor.labels(logits) == ds.labels[test_idx]).float().mean())
    assert accuracy >= 0.95
    assert_close(accuracy, extractor.info["test_accuracy"], atol=1e-6, rtol=0)  # as recorded in the cache


def test_classifier_is_cached_and_loaded_with_weights_only():
    ds = load_dataset("digits")
    path = classifier_path(ds)
    mtime = path.stat().st_mtime_ns
    assert classifier_path(ds) == path and path.stat().st_mtime_ns == mtime  # not retrained
    state = torch.load(path, weights_only=True)
    assert state["dataset"] == ds.fingerprint and state["num_classes"] == 10


def test_held_out_accuracy_is_measured_on_images_the_classifier_never_trained_on():
    """The held-out split's labels are shifted by one (3 -> 4, ...). Had the classifier trained on those images
    it would have learnt some shifted labels; it did not, so it reads their true digits, and the accuracy it
    records (against the shifted labels) is near 0."""
    ds = load_dataset("digits", EIGHT)
    train_idx, test_idx = holdout_split(len(ds))
    assert len(set(train_idx.tolist()) & set(test_idx.tolist())) == 0
    assert len(train_idx) + len(test_idx) == len(ds) and len(test_idx) == 449  # a quarter of 1,797
    poisoned = ds.labels.clone()
    poisoned[test_idx] = (poisoned[test_idx] + 1) % 10
    model, info = train_classifier(ds.images, poisoned, 10)
    assert info["test_size"] == 449 and info["train_size"] == 1348
    assert info["test_accuracy"] < 0.05
    true_accuracy = float((predict(model, ds.images[test_idx]) == ds.labels[test_idx]).float().mean())
    assert true_accuracy > 0.93
    assert_close(
        info["test_accuracy"], float((predict(model, ds.images[test_idx]) == poisoned[test_idx]).float().mean())
    )


def test_held_out_accuracy_is_stored_with_the_classifier_and_logged():
    ds = load_dataset("stacked_digits", EIGHT)
    state = torch.load(classifier_path(ds), weights_only=True)
    assert state["test_size"] == 449 and 0.95 < state["test_accuracy"] <= 1
    evaluator = create_evaluator(ds, eval_samples=200, metrics=("fid",))
    protocol = evaluator.protocol()
    assert protocol["domain_classifier_test_accuracy"] == state["test_accuracy"]
    assert protocol["domain_classifier_test_size"] == 449
    # three channels, each read independently by the digits classifier: a triple is right with p^3
    assert_close(protocol["mode_label_accuracy"], state["test_accuracy"] ** 3)
    digits = create_evaluator(load_dataset("digits", EIGHT), eval_samples=200, metrics=("fid",))
    assert_close(digits.protocol()["mode_label_accuracy"], state["test_accuracy"])


def test_domain_extractor_is_registered_with_torch_fidelity():
    import torch_fidelity

    class Images(torch.utils.data.Dataset):
        def __init__(self, images):
            self.images = images

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            return self.images[i]

    ds = load_dataset("digits")
    n = 300
    evaluator = ImageEvaluator(ds, eval_samples=n, metrics=("fid",))
    fake = ds.reference(n, seed=99) * 0.8  # dimmer digits
    ours = evaluator(fake)[fid_key("domain")]
    theirs = torch_fidelity.calculate_metrics(
        input1=Images(to_uint8(fake)),
        input2=Images(ds.images),  # FID's reference is the whole training set
        feature_extractor=EXTRACTOR,
        feature_extractor_weights_path=str(classifier_path(ds)),
        fid=True,
        cuda=False,
        cache=False,
        verbose=False,
        save_cpu_ram=True,
        batch_size=100,
    )
    assert_close(ours, theirs[torch_fidelity.KEY_METRIC_FID], rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------------ mode coverage
@pytest.mark.slow
def test_stacked_digit_channels_are_read_right_on_held_out_digits():
    """Per-channel accuracy on triples built only from held-out digits, which the classifier never saw."""
    ds = load_dataset("stacked_digits", EIGHT)
    base = ds.per_channel_source
    extractor = domain_extractor(ds)
    _, test_idx = holdout_split(len(base))
    g = torch.Generator().manual_seed(0)
    triples = test_idx[torch.randint(len(test_idx), (3000, 3), generator=g)]
    images = base.images_at(triples).squeeze(-3)  # [3000, 3, 8, 8]
    predicted = extractor.labels(extract(extractor, images)["logits"])
    place = torch.tensor([100, 10, 1])
    truth = base.labels[triples]
    channel_accuracy = float((predicted[:, None] // place % 10 == truth).float().mean())
    assert_close(channel_accuracy, extractor.info["test_accuracy"], atol=0.01, rtol=0)
    assert channel_accuracy >= 0.95


@pytest.mark.slow
def test_real_stacked_digits_cover_about_1000_modes_at_10000_samples():
    """The real-data row at 10,000 samples: each mode expects 10 samples, so all 1,000 should be seen (a mode is
    missed with probability e^-10); misread channels move samples between modes, which leaves the count."""
    evaluator = create_evaluator(load_dataset("stacked_digits", EIGHT), eval_samples=10_000)
    real = evaluator.real_scores(repeats=2)
    assert all(v >= 990 for v in real[MODES_COVERED])
    assert all(v < 0.15 for v in real[KL_UNIFORM])  # multinomial noise ~(K - 1) / 2n = 0.05, plus misreads


def test_a_generator_of_one_digit_triple_covers_one_mode():
    ds = load_dataset("stacked_digits", EIGHT)
    evaluator = create_evaluator(ds, eval_samples=10_000, metrics=("fid",))
    one = ds.reference(1, seed=0).expand(10_000, -1, -1, -1)
    out = evaluator(one)
    assert_close(out[MODES_COVERED], 1.0)
    assert_close(out[KL_UNIFORM], math.log(1000))


# ------------------------------------------------------------------------------------------ the evaluator
@pytest.mark.parametrize("name", ["digits", "polygons"])
def test_image_evaluator_scores_real_data_as_real(name):
    ds = load_dataset(name)
    evaluator = create_evaluator(ds, eval_samples=500)
    assert evaluator.primary == fid_key("domain") and evaluator.feature_space == "domain"
    real = evaluator(ds.reference(500, seed=7))
    noise = evaluator(torch.rand(500, *ds.sample_shape) * 2 - 1)
    assert set(real) == set(evaluator.metric_names())
    assert real[fid_key("domain")] < 0.1 * noise[fid_key("domain")]
    assert real[precision_key("domain")] > 0.8 and real[recall_key("domain")] > 0.8
    assert_close(real[MODES_COVERED], float(ds.num_classes))
    protocol = evaluator.protocol()
    assert protocol["domain_weights_sha256"] == evaluator.domain.info["weights_sha256"]
    assert protocol["eval_samples"] == 500 and protocol["modes"] == ds.num_classes


def test_image_evaluator_caches_real_features_and_flags_nan_samples():
    ds = load_dataset("digits")
    first = create_evaluator(ds, eval_samples=100)
    cached = list((first.cache / "real").glob(f"{ds.fingerprint}-domain-*-n100-*.pt"))
    assert len(cached) == 1
    second = create_evaluator(ds, eval_samples=100)
    assert_close(second.reference["domain"]["features"], first.reference["domain"]["features"])
    assert_close(second.reference["domain"]["stats"]["sigma"], first.reference["domain"]["stats"]["sigma"])
    out = second(torch.full((100, *ds.sample_shape), math.nan))
    assert set(out) == set(second.metric_names()) and all(math.isnan(v) for v in out.values())


def test_unknown_image_metric_is_refused():
    with pytest.raises(ValueError, match="valid: fid, kid, prc, is"):
        create_evaluator(load_dataset("digits"), eval_samples=50, metrics=("fid", "lpips"))


def test_reference_is_the_whole_training_set_for_fid():
    ds = load_dataset("digits", EIGHT)
    evaluator = create_evaluator(ds, eval_samples=500)
    everything = extract(evaluator.domain, ds.images)["features"]
    assert_close(evaluator.reference["domain"]["stats"]["mu"], fid_statistics(everything)["mu"])
    assert evaluator.reference["domain"]["features"].shape == (500, everything.shape[1])  # KID, PRC: 500 of them
    big = create_evaluator(ds, eval_samples=5000, metrics=("fid",))
    assert big.reference_size == len(ds) == 1797  # never drawn with replacement
    assert "all 1797 training images" in big.protocol()["reference"]


def test_real_scores_are_independent_draws_scored_like_samples():
    ds = load_dataset("digits", EIGHT)
    evaluator = create_evaluator(ds, eval_samples=2000)
    real = evaluator.real_scores(repeats=3, seed=40)
    assert set(real) == set(evaluator.metric_names()) and all(len(v) == 3 for v in real.values())
    assert len(set(real[fid_key("domain")])) == 3  # three different draws
    assert max(real[fid_key("domain")]) < 1.0 and all(v == 10 for v in real[MODES_COVERED])
    assert real == evaluator.real_scores(repeats=3, seed=40)  # seeded
    # draw k is what a generator emitting exactly those images (drawn with replacement) scores
    g = torch.Generator().manual_seed(41)
    again = evaluator.score_uint8(ds.images_at(torch.randint(len(ds), (2000,), generator=g)))
    assert_close(again[fid_key("domain")], real[fid_key("domain")][1])


def test_a_one_class_set_is_scored_in_the_raw_pixel_space(capsys):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1000, 3, 32, 32), generator=g, dtype=torch.uint8)
    faces = ImageDataset("faces", images, torch.zeros(1000, dtype=torch.int64), 1)
    evaluator = create_evaluator(faces, eval_samples=500)
    assert evaluator.feature_space == "raw" and evaluator.primary == fid_key("raw")
    assert MODES_COVERED not in evaluator.metric_names()
    out = evaluator(faces.reference(500, seed=3))
    assert set(out) == set(evaluator.metric_names())
    assert evaluator.reference["raw"]["features"].shape == (500, 3 * 16 * 16)  # pooled to 16x16
    darker = evaluator(to_unit_range(images[:500] // 2))
    assert out[fid_key("raw")] < 0.2 * darker[fid_key("raw")]
    assert evaluator.protocol()["modes"] == 1 and "one class" in evaluator.protocol()["no_domain_space"]
    create_evaluator(faces, eval_samples=100)
    note = capsys.readouterr().err.strip().splitlines()
    assert len(note) == 1 and "faces has 1 class" in note[0] and "fid_raw" in note[0]  # once per process


def test_inception_score_is_higher_is_better():
    assert is_higher_better(is_key("inception")) and is_higher_better("best_" + is_key("inception"))


def test_inception_weights_are_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert inception_weights_path(None) is None
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        inception_weights_path(tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError, match="never downloads"):
        create_evaluator(load_dataset("digits"), eval_samples=50, inception=True)


def fake_inception_weights(path, monkeypatch):
    """InceptionV3 with random weights, saved as a weights file (the real ones need a download; torch-fidelity
    builds the network only from a file, so the fake is full size, about 95 MB)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    with monkeypatch.context() as patch:  # build the network without its weights, to save random ones
        patch.setattr(FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        patch.setattr(torch, "load", lambda *args, **kwargs: {})
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path="-")
    torch.save(net.state_dict(), path)
    return path


def tiny_two_class_set() -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (24, 1, 8, 8), generator=g, dtype=torch.uint8)
    images[12:] //= 4  # two classes: bright and dark noise
    return ImageDataset("tiny", images, torch.arange(24) // 12, 2)


@pytest.mark.slow
def test_inception_space_when_a_weights_file_is_given(tmp_path, monkeypatch):
    """With InceptionV3 weights in a file, the evaluator adds the ``inception`` metrics and the Inception Score,
    computed by torch-fidelity against the whole training set; the domain space stays the primary."""
    weights = fake_inception_weights(tmp_path / "inception.pth", monkeypatch)
    ds = tiny_two_class_set()
    evaluator = create_evaluator(ds, eval_samples=12, inception_weights=weights)
    assert evaluator.primary == fid_key("domain")
    out = evaluator(ds.reference(12, seed=3))
    assert {fid_key("inception"), kid_key("inception"), precision_key("inception"), is_key("inception")} <= set(out)
    assert set(out) == set(evaluator.metric_names())
    assert (
        math.isfinite(out[fid_key("inception")]) and 1 - 1e-9 <= out[is_key("inception")] <= 1008
    )  # IS >= 1, up to rounding
    protocol = evaluator.protocol()
    assert protocol["inception_weights_sha256"] == evaluator.inception_sha256
    assert protocol["inception_extractor"] == "inception-v3-compat"
    assert protocol["inception_protocol"].startswith("short")  # 12 generated samples, not 50,000
    # the whole training set's statistics: 24 images, in 2048-d
    assert evaluator.reference["inception"]["stats"]["mu"].shape == (2048,)
    monkeypatch.setenv("GANBENCH_INCEPTION_WEIGHTS", str(weights))  # how --inception-weights reaches workers
    assert "inception" in create_evaluator(ds, eval_samples=12, metrics=("fid",)).extractors
    assert "inception" not in create_evaluator(ds, eval_samples=12, inception=False).extractors
