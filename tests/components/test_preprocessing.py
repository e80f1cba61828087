"""standardize, PCA and feature selection against direct computations; no train/test leakage."""

from __future__ import annotations

import numpy as np
import pytest

from pylearn_lab.components import (
    Dataset,
    Split,
    load_iris,
    make_classification,
    pca,
    select_features,
    standardize,
    train_test_split,
)
from pylearn_lab.components.preprocessing import f_scores, pca_basis
from pylearn_lab.errors import DataError, ParameterTypeError


@pytest.fixture(scope="module")
def iris_split() -> Split:
    return train_test_split.fn(load_iris.fn(), test_size=0.3, seed=2)


def test_standardize_dataset() -> None:
    out = standardize.fn(load_iris.fn())
    assert isinstance(out, Dataset) and out.feature_names == load_iris.fn().feature_names
    assert np.allclose(out.X.mean(axis=0), 0.0) and np.allclose(out.X.std(axis=0), 1.0)


def test_standardize_split_uses_train_statistics(iris_split: Split) -> None:
    out = standardize.fn(iris_split)
    assert isinstance(out, Split)
    assert np.allclose(out.train.X.mean(axis=0), 0.0) and np.allclose(out.train.X.std(axis=0), 1.0)
    mu, sd = iris_split.train.X.mean(axis=0), iris_split.train.X.std(axis=0)
    assert np.allclose(out.test.X, (iris_split.test.X - mu) / sd)
    assert not np.allclose(out.test.X.mean(axis=0), 0.0)  # test statistics were not used
    assert np.array_equal(out.test.y, iris_split.test.y)


def test_standardize_leaves_constant_features_finite() -> None:
    ds = Dataset(np.array([[1.0, 5.0], [3.0, 5.0]]), None, ("a", "b"), (), "c")
    assert standardize.fn(ds).X.tolist() == [[-1.0, 0.0], [1.0, 0.0]]


def test_pca_matches_svd() -> None:
    X = load_iris.fn().X
    Xc = X - X.mean(axis=0)
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    mean, comps, var = pca_basis(X, 3)
    assert np.allclose(mean, X.mean(axis=0))
    for got, ref in zip(comps, vt[:3]):  # equal up to sign
        assert np.allclose(got, ref) or np.allclose(got, -ref)
    assert np.allclose(var, s[:3] ** 2 / (len(X) - 1))
    assert np.isclose(var[0] / (s ** 2 / (len(X) - 1)).sum(), 0.9246, atol=1e-4)  # iris: 92.46 %
    Z = pca.fn(load_iris.fn(), n_components=3).X
    assert np.allclose(np.abs(Z), np.abs(Xc @ vt[:3].T))
    assert np.allclose(Z.var(axis=0, ddof=1), s[:3] ** 2 / (len(X) - 1))


def test_pca_output_and_sign_convention() -> None:
    out = pca.fn(load_iris.fn(), n_components=2)
    assert out.feature_names == ("pc1", "pc2") and out.X.shape == (150, 2)
    _, comps, _ = pca_basis(load_iris.fn().X, 4)
    assert np.all(comps[np.arange(4), np.abs(comps).argmax(axis=1)] > 0)
    assert np.allclose(comps @ comps.T, np.eye(4))


def test_pca_on_split_projects_test_on_train_axes(iris_split: Split) -> None:
    out = pca.fn(iris_split, n_components=2)
    mean, comps, _ = pca_basis(iris_split.train.X, 2)
    assert np.allclose(out.test.X, (iris_split.test.X - mean) @ comps.T)
    assert np.allclose(out.train.X.mean(axis=0), 0.0)


def test_pca_rejects_too_many_components() -> None:
    with pytest.raises(DataError, match=r"min\(n_samples, n_features\) = 4"):
        pca.fn(load_iris.fn(), n_components=5)
    with pytest.raises(ParameterTypeError, match=r"\[1, 100\]"):
        pca(load_iris(), n_components=0)


def test_f_scores_by_hand() -> None:
    X = np.array([[1.0, 0.0], [3.0, 1.0], [5.0, 0.0], [7.0, 1.0]])
    y = np.array([0, 0, 1, 1])
    # column 0: class means 2 and 6, grand mean 4 -> SSB = 4*4 = 16, SSW = 4*1 = 4,
    # F = (16 / 1) / (4 / 2) = 8
    # column 1: identical class means -> F = 0
    assert np.allclose(f_scores(X, y), [8.0, 0.0])


def test_select_features_finds_the_informative_ones() -> None:
    ds = make_classification.fn(n_samples=400, n_features=12, n_informative=3, seed=5)
    out = select_features.fn(ds, k=3)
    assert sorted(out.feature_names) == ["informative_0", "informative_1", "informative_2"]
    cols = [ds.feature_names.index(n) for n in out.feature_names]
    assert cols == sorted(cols) and np.array_equal(out.X, ds.X[:, cols])


def test_select_features_by_variance_and_on_split() -> None:
    ds = Dataset(np.array([[0.0, 0.0, 1.0], [0.0, 10.0, 2.0], [0.0, 20.0, 3.0]]), None,
                 ("flat", "wide", "narrow"), (), "v")
    assert select_features.fn(ds, k=2, score="variance").feature_names == ("wide", "narrow")
    split = train_test_split.fn(load_iris.fn(), seed=1)
    out = select_features.fn(split, k=1)
    assert out.train.feature_names == out.test.feature_names == ("petal_length_cm",)
    with pytest.raises(DataError, match="expected k <= 4"):
        select_features.fn(load_iris.fn(), k=5)
    with pytest.raises(ParameterTypeError, match="expected one of"):
        select_features(load_iris(), score="chi2")
