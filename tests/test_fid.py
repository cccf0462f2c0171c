"""FID machinery: both modes through torch-fidelity, statistics, Inception weights, classifier, precision/recall."""

from urllib.error import URLError

import numpy as np
import pytest
import torch
import torch_fidelity
from scipy import linalg
from torch import nn
from torch_fidelity import FeatureExtractorBase
from torch_fidelity.metric_prc import calculate_precision_recall_full

from vaepriors.core.evaluation import fid
from vaepriors.core.evaluation.feature_classifier import load_feature_classifier, train_feature_classifier
from vaepriors.core.evaluation.precision_recall import precision_recall

TINY = "vaepriors-test-tiny-cnn"


class TinyExtractor(FeatureExtractorBase):
    """Two conv-BN-ReLU blocks with fixed random weights and non-trivial running statistics."""

    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)
        generator = torch.Generator().manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                 nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten())
        for parameter in self.net.parameters():
            parameter.data = torch.randn(parameter.shape, generator=generator) * 0.5
        for layer in (self.net[1], self.net[4]):
            layer.running_mean.fill_(0.3)
            layer.running_var.fill_(2.0)
        self.eval()

    @staticmethod
    def get_provided_features_list():
        return ("features",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "features"

    @staticmethod
    def can_be_compiled():
        return False

    def forward(self, x):
        return (self.net(x.float() / 255),)


fid.register_extractor(TINY, TinyExtractor)
FEATURES = fid.FidFeatures(TINY, "features", "tiny")


def images(count: int, seed: int, shift: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 200, (count, 1, 8, 8), generator=generator) + shift).to(torch.uint8)


def half_darkened(x: torch.Tensor) -> torch.Tensor:
    """Every other image with its top half darkened: a change of the population, not of every image alike."""
    y = x.clone()
    y[::2, :, :4] //= 4
    return y


@pytest.mark.parametrize("mode", ["standard", "paper"])
def test_fid_of_a_set_with_itself_is_zero_and_a_changed_set_is_positive(mode):
    real, same_distribution = images(96, 0), images(96, 1)
    assert abs(fid.compute_fid(real, real, FEATURES, mode, batch_size=32)) < 1e-9
    baseline = fid.compute_fid(real, same_distribution, FEATURES, mode, batch_size=32)
    assert fid.compute_fid(real, half_darkened(same_distribution), FEATURES, mode, batch_size=32) > 10 * baseline


def test_paper_mode_normalises_away_a_global_brightness_shift():
    """Why the paper's FIDs are so small: batch-statistics BatchNorm removes per-channel moment mismatches."""
    real, shifted = images(96, 0), images(96, 0, shift=50)
    standard = fid.compute_fid(real, shifted, FEATURES, "standard", batch_size=32)
    paper = fid.compute_fid(real, shifted, FEATURES, "paper", batch_size=32)
    assert paper < 0.1 * standard


def test_paper_and_standard_modes_differ():
    real, fake = images(96, 0), half_darkened(images(96, 1))
    standard = fid.compute_fid(real, fake, FEATURES, "standard", batch_size=32)
    paper = fid.compute_fid(real, fake, FEATURES, "paper", batch_size=32)
    assert abs(standard - paper) > 0.1 * max(standard, paper)


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="unknown FID mode"):
        fid.compute_fid(images(8, 0), images(8, 1), FEATURES, "eval")


def test_paper_mode_uses_batch_statistics_and_keeps_running_statistics():
    extractor = fid.batch_statistics_variant(TinyExtractor)(TINY, ["features"])
    before = {k: v.clone() for k, v in extractor.state_dict().items()}
    x = images(16, 2)
    standard = extractor.net(x.float() / 255)
    paper = extractor(x)[0]
    for key, value in extractor.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(not layer.training and layer.track_running_stats for layer in extractor.modules()
               if isinstance(layer, nn.BatchNorm2d))
    assert torch.allclose(extractor.net(x.float() / 255), standard)
    assert not torch.allclose(paper, standard, atol=1e-3)
    # batch statistics: an image's features depend on the rest of its batch
    assert not torch.allclose(extractor(x[:8])[0], paper[:8], atol=1e-4)


def test_features_keep_input_order_and_standard_mode_ignores_the_batching():
    x = images(50, 3)
    one_by_one = torch.cat([fid.extract_features(x[i:i + 1], FEATURES, batch_size=1) for i in range(5)])
    batched = fid.extract_features(x, FEATURES, batch_size=16, seed=7)
    assert torch.allclose(batched[:5], one_by_one, atol=1e-5)
    paper_a = fid.extract_features(x, FEATURES, "paper", batch_size=16, seed=7)
    assert torch.equal(paper_a, fid.extract_features(x, FEATURES, "paper", batch_size=16, seed=7))
    assert not torch.allclose(paper_a, fid.extract_features(x, FEATURES, "paper", batch_size=16, seed=8))


def test_standard_fid_matches_torch_fidelity_calculate_metrics():
    real, fake = images(64, 4), images(64, 5, shift=30)

    class Images(torch.utils.data.Dataset):
        def __init__(self, x):
            self.x = x

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i]

    metrics = torch_fidelity.calculate_metrics(input1=Images(real), input2=Images(fake), fid=True,
                                               feature_extractor=TINY, cuda=False, cache=False, verbose=False,
                                               save_cpu_ram=True, batch_size=32)
    ours = fid.compute_fid(real, fake, FEATURES, "standard", batch_size=32)
    assert ours == pytest.approx(metrics[torch_fidelity.KEY_METRIC_FID], rel=1e-5)


def test_fid_from_statistics_closed_form_for_diagonal_gaussians(tmp_path):
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    var1, var2 = rng.uniform(0.5, 2, 5), rng.uniform(0.5, 2, 5)
    a = fid.FeatureStatistics(mu1, np.diag(var1), 100)
    b = fid.FeatureStatistics(mu2, np.diag(var2), 100)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert fid.fid_from_statistics(a, b) == pytest.approx(expected, rel=1e-9)
    a.save(tmp_path / "a.npz")
    assert fid.fid_from_statistics(fid.FeatureStatistics.load(tmp_path / "a.npz"), b) == pytest.approx(expected)


def test_fid_from_statistics_matches_the_authors_sqrtm_formula():
    rng = np.random.default_rng(1)
    f1, f2 = rng.normal(size=(200, 6)), rng.normal(size=(150, 6)) @ rng.normal(size=(6, 6)) + 0.5
    a = fid.FeatureStatistics.from_features(torch.from_numpy(f1))
    b = fid.FeatureStatistics.from_features(torch.from_numpy(f2))
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    sqrtm = linalg.sqrtm(s1 @ s2).real
    authors = np.sum((f1.mean(0) - f2.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * sqrtm)
    assert fid.fid_from_statistics(a, b) == pytest.approx(authors, rel=1e-8)


def test_missing_inception_weights_raise_a_clear_error(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(fid.MissingInceptionWeights) as error:
        fid.resolve_inception_weights(None, cache_dir=tmp_path)
    message = str(error.value)
    assert fid.URL_INCEPTION_V3 in message and fid.INCEPTION_WEIGHTS_KEY in message
    assert str(tmp_path / "weights-inception-2015-12-05-6726825d.pth") in message
    with pytest.warns(UserWarning), pytest.raises(fid.MissingInceptionWeights, match="does not exist"):
        fid.resolve_inception_weights(tmp_path / "absent.pth", cache_dir=tmp_path)
    configured = tmp_path / "mine.pth"
    configured.write_bytes(b"x")
    assert fid.resolve_inception_weights(configured, cache_dir=tmp_path) == configured


def test_quantise_images_clips_and_truncates():
    x = torch.tensor([-0.2, 0.0, 0.5, 0.999, 1.0, 1.7])
    assert fid.quantise_images(x).tolist() == [0, 0, 127, 254, 255, 255]


def two_class_images(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0 has a bright top half, class 1 a bright bottom half, plus noise."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 2
    x = torch.randint(0, 80, (count, 1, 8, 8), generator=generator)
    x[labels == 0, :, :4] += 150
    x[labels == 1, :, 4:] += 150
    return x.to(torch.uint8), labels


def test_feature_classifier_trains_and_runs_through_torch_fidelity(tmp_path):
    x, labels = two_class_images(400, 0)
    path = train_feature_classifier(x, labels, tmp_path / "classifier.pt", dataset="toy", epochs=3, seed=0,
                                    batch_size=32)
    trained = load_feature_classifier(path)
    assert trained.heldout_accuracy >= 0.95 and trained.dataset == "toy"
    features = fid.fid_features("classifier", path)
    assert features.label == "classifier:toy"
    assert fid.extract_features(x[:10], features).shape == (10, 128)
    zeros, ones = x[labels == 0], x[labels == 1]
    for mode in fid.MODE_SUFFIX:
        same_class = fid.compute_fid(zeros[:100], zeros[100:], features, mode, batch_size=32)
        other_class = fid.compute_fid(zeros[:100], ones[:100], features, mode, batch_size=32)
        assert other_class > 5 * same_class


def test_classifier_refuses_unlabelled_images(tmp_path):
    x, labels = two_class_images(8, 0)
    with pytest.raises(ValueError, match="unlabelled"):
        train_feature_classifier(x, torch.full_like(labels, -1), tmp_path / "c.pt", dataset="celeba")


def test_precision_recall_matches_torch_fidelity_with_the_authors_neighbourhoods():
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(300, 4, generator=generator)
    fake = torch.randn(250, 4, generator=generator) * 0.6 + 0.8
    ours = precision_recall(real, fake, chunk=64)
    # torch-fidelity's neighbourhood k: k-th nearest other point; the authors' precision k = 3, recall k = 4
    precision_k3, recall_k3 = calculate_precision_recall_full(fake, real, 3)
    precision_k4, recall_k4 = calculate_precision_recall_full(fake, real, 4)
    assert ours.precision == pytest.approx(precision_k3) and ours.precision != pytest.approx(precision_k4)
    assert ours.recall == pytest.approx(recall_k4) and ours.recall != pytest.approx(recall_k3)
    far = precision_recall(real, fake + 100)
    assert (far.precision, far.recall) == (0.0, 0.0)


def test_inception_path_offline_with_a_configured_weights_file(tmp_path, monkeypatch):
    """torch-fidelity's real Inception (random weights saved to a file): gray images, both modes, no network."""
    from torch_fidelity import feature_extractor_inceptionv3 as inception

    with monkeypatch.context() as patch:
        patch.setattr(inception, "load_state_dict_from_url", lambda *args, **kwargs: {})
        patch.setattr(inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
        random_inception = inception.FeatureExtractorInceptionV3(fid.INCEPTION_EXTRACTOR, [fid.INCEPTION_LAYER])
    torch.save(nn.Module.state_dict(random_inception), tmp_path / "inception.pth")
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *args, **kwargs: pytest.fail("no download"))
    features = fid.fid_features("inception", tmp_path / "inception.pth")
    assert features.label == "inception-v3-compat" and features.rgb
    gray = torch.randint(0, 256, (4, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    standard = fid.extract_features(gray, features, "standard", batch_size=2)
    paper = fid.extract_features(gray, features, "paper", batch_size=2)
    assert standard.shape == paper.shape == (4, 2048)
    assert not torch.allclose(standard, paper)
