"""Representation probes: the authors' classifiers, accuracy on separable and on random labels, standardisation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from vaepriors.core.evaluation import probes
from vaepriors.core.evaluation.probes import PROBES, probe_accuracies

KEYS = {"svm_few", "svm_many", "knn_few", "knn_many"}


def _blobs(n_per_class: int, seed: int, classes: int = 3, dim: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Well separated Gaussian blobs (centres 10 apart, unit noise): linearly separable with a wide margin."""
    rng = np.random.default_rng(seed)
    centres = 10.0 * np.eye(classes, dim)
    labels = np.repeat(np.arange(classes), n_per_class)
    return centres[labels] + rng.normal(size=(labels.size, dim)), labels


def test_classifiers_are_the_authors():
    """Linear-kernel libsvm SVC with C = 0.025 capped at 2k / 10k iterations; k-NN with k = 5 / 100."""
    svm_few, svm_many = PROBES["svm_few"](10_000), PROBES["svm_many"](10_000)
    assert isinstance(svm_few, SVC) and (svm_few.kernel, svm_few.C, svm_few.max_iter) == ("linear", 0.025, 2000)
    assert isinstance(svm_many, SVC) and (svm_many.kernel, svm_many.C, svm_many.max_iter) == ("linear", 0.025, 10000)
    assert isinstance(PROBES["knn_few"](10_000), KNeighborsClassifier)
    assert (PROBES["knn_few"](10_000).n_neighbors, PROBES["knn_many"](10_000).n_neighbors) == (5, 100)
    assert PROBES["knn_many"](40).n_neighbors == 40  # a tiny train set: vote over all of it


def test_separable_classes_are_recovered():
    train, train_labels = _blobs(80, seed=0)
    test, test_labels = _blobs(40, seed=1)
    accuracies = probe_accuracies(train, train_labels, test, test_labels)
    assert set(accuracies) == KEYS
    assert all(value == pytest.approx(1.0) for value in accuracies.values()), accuracies


def test_random_labels_give_chance_accuracy():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(400, 5)), rng.normal(size=(400, 5))
    train_labels, test_labels = rng.permutation(np.arange(400) % 4), rng.permutation(np.arange(400) % 4)
    accuracies = probe_accuracies(train, train_labels, test, test_labels)
    assert all(abs(value - 0.25) < 0.1 for value in accuracies.values()), accuracies


def test_standardisation_makes_probes_invariant_to_feature_scale():
    """The scaler is fitted on train features: rescaling/shifting each feature of both splits changes nothing,
    although C = 0.025 and Euclidean k-NN alone depend on the scale."""
    rng = np.random.default_rng(2)
    train_labels, test_labels = np.arange(120) % 2, np.arange(60) % 2
    train = rng.normal(size=(120, 4)) + 1.5 * train_labels[:, None] * np.array([1.0, 0.0, 0.0, 0.0])
    test = rng.normal(size=(60, 4)) + 1.5 * test_labels[:, None] * np.array([1.0, 0.0, 0.0, 0.0])
    scale, shift = np.array([1e-3, 1e3, 7.0, 0.5]), np.array([5.0, -2.0, 100.0, 0.0])
    plain = probe_accuracies(train, train_labels, test, test_labels)
    scaled = probe_accuracies(train * scale + shift, train_labels, test * scale + shift, test_labels)
    assert plain == pytest.approx(scaled)
    assert 0.6 < plain["svm_few"] < 1.0  # overlapping classes, informative first feature
    unscaled_knn = KNeighborsClassifier(5).fit(train * scale + shift, train_labels)
    assert unscaled_knn.score(test * scale + shift, test_labels) < plain["knn_few"] - 0.1  # the scaler matters


def test_tensors_and_subsampling():
    train, train_labels = _blobs(50, seed=5)
    test, test_labels = _blobs(10, seed=6)
    as_tensors = probe_accuracies(torch.from_numpy(train), torch.from_numpy(train_labels),
                                  torch.from_numpy(test), torch.from_numpy(test_labels))
    assert as_tensors == probe_accuracies(train, train_labels, test, test_labels)
    features, labels = probes._subsample(train, train_labels, max_train=20, seed=0)
    assert features.shape == (20, train.shape[1]) and labels.shape == (20,)
    rows = {tuple(row) for row in train}
    assert all(tuple(row) in rows for row in features)
    assert np.array_equal(labels, probes._subsample(train, train_labels, 20, seed=0)[1])
    assert not np.array_equal(features, probes._subsample(train, train_labels, 20, seed=1)[0])
    subsampled = probe_accuracies(train, train_labels, test, test_labels, max_train=20)  # k = 100 > 20 train points
    assert set(subsampled) == KEYS and all(0.0 <= value <= 1.0 for value in subsampled.values())


def test_capped_svm_convergence_warning_is_silenced(monkeypatch):
    capped = lambda n_train: SVC(kernel="linear", C=0.025, max_iter=1)  # noqa: E731 - a one-iteration SVC
    train, labels = _blobs(20, seed=7)
    with pytest.warns(ConvergenceWarning):
        capped(len(labels)).fit(train, labels)
    monkeypatch.setattr(probes, "PROBES", {"svm_capped": capped})
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert set(probe_accuracies(train, labels, train, labels)) == {"svm_capped"}
