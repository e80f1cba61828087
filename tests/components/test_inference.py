"""predict / predict_proba: the right part of a Split, consistent outputs, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from pylearn_lab.components import (
    Split,
    kmeans,
    load_iris,
    logistic_regression,
    make_blobs,
    make_moons,
    mlp,
    predict,
    predict_proba,
    standardize,
    train_test_split,
)
from pylearn_lab.errors import DataError
from pylearn_lab.graph.component import Component


@pytest.fixture(scope="module")
def split() -> Split:
    return standardize.fn(train_test_split.fn(load_iris.fn(), seed=0))


def test_predict_uses_the_test_part_of_a_split(split: Split) -> None:
    m = logistic_regression.fn(split, epochs=20)
    on_split = predict.fn(m, split)
    assert on_split.shape == (split.test.n_samples,)
    assert np.array_equal(on_split, predict.fn(m, split.test))
    assert set(on_split.tolist()) <= {0, 1, 2}


@pytest.mark.parametrize("train", [logistic_regression, mlp])
def test_probabilities_are_consistent_with_labels(split: Split, train: Component) -> None:
    m = train.fn(split, epochs=10)
    p = predict_proba.fn(m, split)
    assert p.shape == (split.test.n_samples, 3)
    assert np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0)
    assert np.array_equal(m.classes[p.argmax(axis=1)], predict.fn(m, split))


def test_kmeans_predicts_cluster_ids_but_no_probabilities() -> None:
    blobs = make_blobs.fn(n_samples=60, centers=3)
    m = kmeans.fn(blobs, k=3)
    ids = predict.fn(m, blobs)
    assert set(ids.tolist()) == {0, 1, 2}
    with pytest.raises(DataError, match="gives no class probabilities"):
        predict_proba.fn(m, blobs)


def test_feature_count_mismatch_is_explained(split: Split) -> None:
    m = logistic_regression.fn(split, epochs=2)
    with pytest.raises(DataError, match="trained on 4 features"):
        predict.fn(m, make_moons.fn())
    with pytest.raises(DataError, match="expected a Model, received Split"):
        predict.fn(split, split)
