"""Image metrics: torch-fidelity's FID/KID/precision-recall on known features, the domain classifier, mode
coverage on stacked digits, and the image evaluator."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from ganbench.data import load_dataset
from ganbench.data.images import to_uint8
from ganbench.metrics import KL_UNIFORM, MODES_COVERED, fid_key, kid_key, precision_key, recall_key
from ganbench.metrics.coverage import label_coverage
from ganbench.metrics.domain import EXTRACTOR, classifier_path, domain_extractor, extract, holdout_split
from ganbench.metrics.evaluate import REFERENCE_SEED, create_evaluator
from ganbench.metrics.images import ImageEvaluator, feature_metrics, inception_weights_path


def _gaussian(n: int = 4000, d: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.randn(
        d, d, generator=g, dtype=torch.float64
    )


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
        input2=Images(to_uint8(ds.reference(n, REFERENCE_SEED))),
        feature_extractor=EXTRACTOR,
        feature_extractor_weights_path=str(classifier_path(ds)),
        fid=True, cuda=False, cache=False, verbose=False, save_cpu_ram=True, batch_size=100,
    )  # fmt: skip
    assert_close(ours, theirs[torch_fidelity.KEY_METRIC_FID], rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------------ mode coverage
@pytest.mark.slow
def test_real_stacked_digits_cover_all_1000_modes():
    ds = load_dataset("stacked_digits")
    extractor = domain_extractor(ds)
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[:10_000]
    predicted = extractor.labels(extract(extractor, ds.images_at(idx))["logits"])
    place = torch.tensor([100, 10, 1])
    channel_accuracy = (predicted[:, None] // place % 10 == ds.labels[idx, None] // place % 10).float().mean()
    assert channel_accuracy >= 0.97
    got, truth = label_coverage(predicted, 1000), label_coverage(ds.labels[idx], 1000)
    assert_close(got[MODES_COVERED], 1000.0, atol=3, rtol=0)
    assert_close(got[KL_UNIFORM], truth[KL_UNIFORM], atol=0.02, rtol=0)
    assert_close(truth[KL_UNIFORM], 0.05, atol=0.02, rtol=0)  # multinomial noise: about (K - 1) / 2n


def test_a_generator_of_one_image_covers_one_mode():
    ds = load_dataset("stacked_digits")
    evaluator = create_evaluator(ds, eval_samples=200, metrics=("fid",))
    one = ds.reference(1, seed=0).expand(200, -1, -1, -1)
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
    assert_close(second.real["domain"]["features"], first.real["domain"]["features"])
    out = second(torch.full((100, *ds.sample_shape), math.nan))
    assert set(out) == set(second.metric_names()) and all(math.isnan(v) for v in out.values())


def test_unknown_image_metric_is_refused():
    with pytest.raises(ValueError, match="valid: fid, kid, prc"):
        create_evaluator(load_dataset("digits"), eval_samples=50, metrics=("fid", "is"))


def test_inception_weights_are_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert inception_weights_path(None) is None
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        inception_weights_path(tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError, match="never downloads"):
        create_evaluator(load_dataset("digits"), eval_samples=50, inception=True)


@pytest.mark.slow
def test_inception_space_when_a_weights_file_is_given(tmp_path, monkeypatch):
    """With random InceptionV3 weights in a file (the real ones need a download), the evaluator adds the
    ``inception`` metrics computed by torch-fidelity's extractor."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    with monkeypatch.context() as patch:  # build the network without its weights, to save random ones
        patch.setattr(FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        patch.setattr(torch, "load", lambda *args, **kwargs: {})
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path="-")
    weights = tmp_path / "inception.pth"
    torch.save(net.state_dict(), weights)
    ds = load_dataset("digits")
    evaluator = create_evaluator(ds, eval_samples=8, inception_weights=weights, metrics=("fid", "prc"))
    out = evaluator(ds.reference(8, seed=3))
    assert {fid_key("inception"), precision_key("inception"), recall_key("inception")} <= set(out)
    assert math.isfinite(out[fid_key("inception")])
    assert evaluator.protocol()["inception_weights_sha256"] == evaluator.inception_sha256
