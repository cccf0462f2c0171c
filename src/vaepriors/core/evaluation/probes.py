"""How well a latent representation separates the classes: linear-SVM and k-NN probes (paper §5.2, Tables 2/5).

As the authors' evaluator (reference §10.2 step 5, §12.4): features are standardised with a `StandardScaler` fitted
on the train features; "SVM (few/many)" is a linear-kernel `SVC(C=0.025)` (libsvm, not `LinearSVC`) capped at
2,000/10,000 solver iterations and "KNN (few/many)" a 5/100-nearest-neighbour vote; the score is test accuracy in
[0, 1]. The paper probes one posterior sample z per image on the full train and test splits.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

SVM_C = 0.025
SVM_MAX_ITER: dict[str, int] = {"svm_few": 2_000, "svm_many": 10_000}
KNN_NEIGHBOURS: dict[str, int] = {"knn_few": 5, "knn_many": 100}


def _svm(max_iter: int) -> Callable[[int], ClassifierMixin]:
    return lambda n_train: SVC(kernel="linear", C=SVM_C, max_iter=max_iter)


def _knn(neighbours: int) -> Callable[[int], ClassifierMixin]:
    # Only a tiny test run has fewer train points than k; k-NN then votes over the whole train set.
    return lambda n_train: KNeighborsClassifier(n_neighbors=min(neighbours, n_train))


# Probe name (the evaluation JSON key) -> classifier factory, given the number of train points.
PROBES: dict[str, Callable[[int], ClassifierMixin]] = {
    **{name: _svm(max_iter) for name, max_iter in SVM_MAX_ITER.items()},
    **{name: _knn(neighbours) for name, neighbours in KNN_NEIGHBOURS.items()},
}


def _subsample(features: np.ndarray, labels: np.ndarray, max_train: int | None, seed: int):
    """At most `max_train` train points drawn without replacement (all of them when None or large enough)."""
    if max_train is None or max_train >= len(labels):
        return features, labels
    keep = np.sort(np.random.default_rng(seed).choice(len(labels), size=max_train, replace=False))
    return features[keep], labels[keep]


def _fit_quietly(classifier: ClassifierMixin, features: np.ndarray, labels: np.ndarray) -> ClassifierMixin:
    """Fit, silencing the ConvergenceWarning that the capped SVC raises by design: the cap *is* the setting."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return classifier.fit(features, labels)


def probe_accuracies(
    train_features: ArrayLike,
    train_labels: ArrayLike,
    test_features: ArrayLike,
    test_labels: ArrayLike,
    max_train: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Test accuracy in [0, 1] of each probe in `PROBES`: keys `svm_few, svm_many, knn_few, knn_many`.

    Features are (N, z) arrays (numpy or CPU tensors), labels (N,) integers. `max_train` subsamples the train points
    (drawn with `seed`) to bound the SVM's cost in reduced runs; the paper uses the full split (None).
    """
    features, labels = _subsample(np.asarray(train_features), np.asarray(train_labels), max_train, seed)
    scaler = StandardScaler().fit(features)
    train, test = scaler.transform(features), scaler.transform(np.asarray(test_features))
    test_labels = np.asarray(test_labels)
    return {
        name: float(_fit_quietly(build(len(labels)), train, labels).score(test, test_labels))
        for name, build in PROBES.items()
    }
