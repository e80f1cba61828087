"""Clustering component: k-means (Lloyd's algorithm with k-means++ starts).

Examples
--------
>>> from pylearn_lab.components import make_blobs
>>> m = kmeans(make_blobs(n_samples=60, centers=2), k=2).compute(cache=False)
>>> m.kind, m.params["centers"].shape
('kmeans', (2, 2))
"""

from __future__ import annotations

from typing import Annotated

import numpy as np

from ..errors import DataError
from ..graph.component import component
from ..graph.params import Bounds
from .data import Dataset, Model, Split, train_part

__all__ = ["kmeans", "squared_distances", "nearest_center"]


def squared_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``D[i, j] = ||X[i] - centers[j]||^2`` (never negative despite rounding)."""
    d = (X ** 2).sum(axis=1)[:, None] - 2.0 * X @ centers.T + (centers ** 2).sum(axis=1)[None, :]
    return np.maximum(d, 0.0)


def nearest_center(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, float]:
    """Each sample's nearest center, and the inertia (sum of squared distances to it)."""
    d = squared_distances(X, centers)
    labels = d.argmin(axis=1)
    return labels, float(d[np.arange(len(X)), labels].sum())


def _plus_plus(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: each next center drawn with probability proportional to D^2."""
    centers = [X[rng.integers(len(X))]]
    for _ in range(1, k):
        d = squared_distances(X, np.array(centers)).min(axis=1)
        total = d.sum()
        # all points already coincide with centers: any point will do
        pick = rng.integers(len(X)) if total <= 0 else rng.choice(len(X), p=d / total)
        centers.append(X[pick])
    return np.array(centers)


def _lloyd(X: np.ndarray, centers: np.ndarray, max_iter: int) -> tuple[np.ndarray, list[float]]:
    """Alternate mean and assignment steps until the assignment stops changing.

    Returns the centers and the inertia after each assignment (the last value
    belongs to the returned centers).
    """
    labels, value = nearest_center(X, centers)
    inertia = [value]
    for _ in range(max_iter):
        for j in range(len(centers)):
            members = X[labels == j]
            if len(members):
                centers[j] = members.mean(axis=0)
            else:  # an empty cluster restarts at the point worst served by the others
                far = squared_distances(X, centers).min(axis=1).argmax()
                centers[j] = X[far]
        new, value = nearest_center(X, centers)
        inertia.append(value)
        if np.array_equal(new, labels):
            break
        labels = new
    return centers, inertia


@component(category="models")
def kmeans(
    data: Dataset | Split,
    k: Annotated[int, Bounds(1, 100)] = 3,
    n_init: Annotated[int, Bounds(1, 100)] = 4,
    max_iter: Annotated[int, Bounds(1, 10_000)] = 100,
    seed: int = 0,
) -> Model:
    """Group samples into k clusters around their means (k-means, best of n_init runs).

    Each run starts from k-means++ seeds and alternates assigning samples to
    the nearest center and moving centers to their members' mean, until the
    assignment no longer changes (or ``max_iter``). The run with the smallest
    inertia (sum of squared distances) wins. Labels in the data are ignored.

    Parameters
    ----------
    data : Dataset or Split
        Samples to cluster (``split.train`` for a Split).
    k : int
        Number of clusters.
    n_init : int
        Number of independently seeded runs.
    max_iter : int
        Maximum iterations per run.
    seed : int
        Seed of the starting centers.

    Returns
    -------
    Model
        ``kind="kmeans"``, ``params["centers"]`` (k x features), ``classes`` ``0 .. k-1``
        (cluster ids), ``history["inertia"]`` per iteration of the winning run.

    Examples
    --------
    >>> from pylearn_lab.components import make_blobs
    >>> m = kmeans(make_blobs(n_samples=90, centers=3), k=3).compute(cache=False)
    >>> len(m.history["inertia"]) >= 2
    True
    """
    ds = train_part(data, "kmeans")
    if k > ds.n_samples:
        raise DataError(
            f"kmeans: expected k <= n_samples, received k={k} for {ds!r}. Ask for fewer clusters."
        )
    rng = np.random.default_rng(seed)
    best: tuple[np.ndarray, list[float]] | None = None
    for _ in range(n_init):
        centers, inertia = _lloyd(ds.X, _plus_plus(ds.X, k, rng), max_iter)
        if best is None or inertia[-1] < best[1][-1]:
            best = (centers, inertia)
    assert best is not None  # n_init >= 1
    settings = {"k": k, "n_init": n_init, "max_iter": max_iter, "seed": seed,
                "n_features": ds.n_features, "feature_names": ds.feature_names}
    return Model("kmeans", {"centers": best[0]}, np.arange(k), {"inertia": best[1]}, settings)
