"""k-means recovers blob centers; distances, inertia and restarts behave as stated."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pylearn_lab.components import Dataset, kmeans, make_blobs
from pylearn_lab.components.clustering import nearest_center, squared_distances
from pylearn_lab.errors import DataError


def test_squared_distances_by_brute_force() -> None:
    rng = np.random.default_rng(0)
    X, C = rng.normal(size=(7, 3)), rng.normal(size=(4, 3))
    brute = np.array([[((x - c) ** 2).sum() for c in C] for x in X])
    assert np.allclose(squared_distances(X, C), brute)
    labels, inertia = nearest_center(X, C)
    assert labels.tolist() == brute.argmin(axis=1).tolist()
    assert np.isclose(inertia, brute.min(axis=1).sum())


def test_kmeans_recovers_blob_centers_up_to_permutation() -> None:
    ds = make_blobs.fn(n_samples=300, centers=4, spread=0.6, seed=3)
    true = np.array([ds.X[ds.y == c].mean(axis=0) for c in range(4)])
    gaps = [np.linalg.norm(a - b) for a, b in itertools.combinations(true, 2)]
    assert min(gaps) > 6 * 0.6  # precondition: the blobs are well separated
    m = kmeans.fn(ds, k=4)
    centers = m.params["centers"]
    best = min(itertools.permutations(range(4)),
               key=lambda p: np.abs(centers[list(p)] - true).sum())
    # with every blob its own cluster, each center is exactly its blob's mean
    assert np.allclose(centers[list(best)], true)
    assert m.classes.tolist() == [0, 1, 2, 3] and m.kind == "kmeans"


def test_inertia_history_never_increases() -> None:
    m = kmeans.fn(make_blobs.fn(n_samples=200, centers=5, spread=2.5, seed=1), k=5, n_init=1)
    hist = m.history["inertia"]
    assert len(hist) >= 2 and all(b <= a + 1e-9 for a, b in zip(hist, hist[1:]))


def test_best_of_n_init_is_no_worse_than_one_start() -> None:
    ds = make_blobs.fn(n_samples=200, centers=6, spread=2.0, seed=2)
    one = kmeans.fn(ds, k=6, n_init=1, seed=0).history["inertia"][-1]
    many = kmeans.fn(ds, k=6, n_init=8, seed=0).history["inertia"][-1]
    assert many <= one


def test_kmeans_seeds_reproduce_and_duplicate_points() -> None:
    ds = make_blobs.fn(n_samples=120, centers=3, spread=3.0, seed=0)
    a, b = kmeans.fn(ds, seed=5), kmeans.fn(ds, seed=5)
    assert np.array_equal(a.params["centers"], b.params["centers"])
    same = Dataset(np.ones((5, 2)), None, ("a", "b"), (), "same")  # all points coincide
    assert np.allclose(kmeans.fn(same, k=2).params["centers"], 1.0)
    with pytest.raises(DataError, match="k <= n_samples"):
        kmeans.fn(same, k=6)
