"""Dataset components against known answers: Fisher's Iris, and the seeded generators."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from pylearn_lab.components import load_iris, make_blobs, make_classification, make_moons
from pylearn_lab.errors import DataError, ParameterTypeError


def test_iris_is_fishers_data() -> None:
    iris = load_iris.fn()
    assert iris.X.shape == (150, 4) and iris.name == "iris"
    assert iris.target_names == ("setosa", "versicolor", "virginica")
    assert np.bincount(iris.y).tolist() == [50, 50, 50]
    # published column means (cm) of the 150 flowers
    assert np.allclose(iris.X.mean(axis=0), [5.843333, 3.057333, 3.758, 1.199333], atol=1e-6)
    # the two samples the UCI errata corrects, as in Fisher's paper
    assert iris.X[34].tolist() == [4.9, 3.1, 1.5, 0.2]
    assert iris.X[37].tolist() == [4.9, 3.6, 1.4, 0.1]
    # setosa is the linearly separable species: smallest petals
    assert iris.X[iris.y == 0, 2].max() < iris.X[iris.y != 0, 2].min()


def test_iris_ships_as_package_data_with_its_licence() -> None:
    root = resources.files("pylearn_lab.components").joinpath("data")
    assert root.joinpath("iris.csv").read_text("utf-8").startswith("sepal_length_cm,")
    licence = root.joinpath("LICENSE-iris.txt").read_text("utf-8")
    assert "CC BY 4.0" in licence and "Fisher" in licence
    assert "CC BY 4.0" in (load_iris.fn.__doc__ or "")


def test_blobs_are_balanced_gaussians_around_their_centers() -> None:
    ds = make_blobs.fn(n_samples=3000, centers=3, n_features=2, spread=0.5, seed=4)
    assert ds.X.shape == (3000, 2) and np.bincount(ds.y).tolist() == [1000, 1000, 1000]
    for c in range(3):
        pts = ds.X[ds.y == c]
        assert np.allclose(pts.std(axis=0), 0.5, atol=0.05)
        assert np.all(np.abs(pts.mean(axis=0)) < 10.1)


def test_blobs_uneven_sizes_and_errors() -> None:
    assert np.bincount(make_blobs.fn(n_samples=10, centers=3).y).tolist() == [4, 3, 3]
    with pytest.raises(DataError, match="n_samples >= centers"):
        make_blobs.fn(n_samples=2, centers=3)


def test_noiseless_moons_lie_on_their_circles() -> None:
    ds = make_moons.fn(n_samples=101, noise=0.0, seed=0)
    up, low = ds.X[ds.y == 0], ds.X[ds.y == 1]
    assert (len(up), len(low)) == (50, 51)
    assert np.allclose(np.hypot(up[:, 0], up[:, 1]), 1.0) and np.all(up[:, 1] >= -1e-12)
    assert np.allclose(np.hypot(low[:, 0] - 1.0, low[:, 1] - 0.5), 1.0)
    assert np.all(low[:, 1] <= 0.5 + 1e-12)


def test_classification_informative_features_carry_the_class() -> None:
    ds = make_classification.fn(n_samples=2000, n_features=6, n_informative=2, n_classes=3,
                                class_sep=2.0, seed=1)
    assert sorted(ds.feature_names) == ["informative_0", "informative_1", "noise_0",
                                        "noise_1", "noise_2", "noise_3"]
    assert np.bincount(ds.y).tolist() == [667, 667, 666]
    for j, name in enumerate(ds.feature_names):
        means = sorted(ds.X[ds.y == c, j].mean() for c in range(3))
        if name.startswith("informative"):  # class means are -2, 0, 2 in some order
            assert np.allclose(means, [-2.0, 0.0, 2.0], atol=0.15)
        else:
            assert np.allclose(means, 0.0, atol=0.15)
    with pytest.raises(DataError, match="n_informative <= n_features"):
        make_classification.fn(n_features=3, n_informative=4)


@pytest.mark.parametrize("gen", [make_blobs, make_moons, make_classification])
def test_generators_are_deterministic_by_seed(gen: object) -> None:
    a, b, c = gen.fn(seed=7), gen.fn(seed=7), gen.fn(seed=8)  # type: ignore[attr-defined]
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


def test_bounds_are_checked_when_the_expression_is_built() -> None:
    with pytest.raises(ParameterTypeError, match="expected a value in"):
        make_blobs(n_samples=1)
    with pytest.raises(ParameterTypeError, match="expected int"):
        make_moons(n_samples=10.5)
