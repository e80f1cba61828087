"""Dataset components: the real Iris data shipped with the package, and seeded generators.

Every generator draws from ``numpy.random.default_rng(seed)`` only, so the same
arguments give the same arrays in any process, on any engine -- which is what
lets the cache key (function code + arguments) stand for the data.

Examples
--------
>>> load_iris().compute(cache=False)
Dataset('iris', 150 samples x 4 features, 3 classes)
>>> make_moons(n_samples=50, noise=0.2, seed=1).compute(cache=False).X.shape
(50, 2)
"""

from __future__ import annotations

import csv
import io
from importlib import resources
from typing import Annotated

import numpy as np

from ..errors import DataError
from ..graph.component import component
from ..graph.params import Bounds
from .data import Dataset

__all__ = ["load_iris", "make_blobs", "make_moons", "make_classification"]


@component(category="datasets")
def load_iris() -> Dataset:
    """Fisher's Iris flowers: 150 samples, 4 measurements (cm), 3 species.

    The data ship with the package (``pylearn_lab/components/data/iris.csv``)
    and are read through :mod:`importlib.resources`, so this works from an
    installed wheel. Values follow Fisher's paper (the UCI file with its two
    documented corrections). Licence: CC BY 4.0 -- R.A. Fisher (1936), "The use
    of multiple measurements in taxonomic problems", via the UCI Machine
    Learning Repository (doi:10.24432/C56C76); see ``data/LICENSE-iris.txt``.

    Returns
    -------
    Dataset
        ``X`` of shape (150, 4); ``y`` codes 0, 1, 2 for setosa, versicolor, virginica.

    Examples
    --------
    >>> iris = load_iris().compute(cache=False)
    >>> iris.feature_names[:2], iris.target_names
    (('sepal_length_cm', 'sepal_width_cm'), ('setosa', 'versicolor', 'virginica'))
    """
    text = resources.files("pylearn_lab.components").joinpath("data", "iris.csv").read_text("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], [r for r in rows[1:] if r]
    species = ("setosa", "versicolor", "virginica")
    X = np.array([[float(v) for v in r[:-1]] for r in body])
    y = np.array([species.index(r[-1]) for r in body], dtype=np.int64)
    return Dataset(X, y, tuple(header[:-1]), species, "iris")


@component(category="datasets")
def make_blobs(
    n_samples: Annotated[int, Bounds(2, 100_000)] = 300,
    centers: Annotated[int, Bounds(1, 50)] = 3,
    n_features: Annotated[int, Bounds(1, 1_000)] = 2,
    spread: Annotated[float, Bounds(0.0, 100.0)] = 1.0,
    seed: int = 0,
) -> Dataset:
    """Isotropic Gaussian blobs around random centers, one class per blob.

    Centers are drawn uniformly in ``[-10, 10]`` per feature; each sample is its
    center plus ``spread`` times standard normal noise. Classes are as equal in
    size as ``n_samples`` allows; rows are shuffled.

    Parameters
    ----------
    n_samples : int
        Total number of samples.
    centers : int
        Number of blobs (= classes).
    n_features : int
        Dimension of the samples.
    spread : float
        Standard deviation of each blob.
    seed : int
        Seed of the random generator.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = make_blobs(n_samples=90, centers=3, seed=0).compute(cache=False)
    >>> ds.X.shape, np.bincount(ds.y).tolist()
    ((90, 2), [30, 30, 30])
    """
    if n_samples < centers:
        raise DataError(
            f"make_blobs: expected n_samples >= centers, received n_samples={n_samples}, "
            f"centers={centers}. Ask for at least one sample per blob."
        )
    rng = np.random.default_rng(seed)
    mus = rng.uniform(-10.0, 10.0, size=(centers, n_features))
    y = np.arange(n_samples) % centers
    X = mus[y] + spread * rng.standard_normal((n_samples, n_features))
    order = rng.permutation(n_samples)
    names = tuple(f"x{i}" for i in range(n_features))
    return Dataset(X[order], y[order], names, tuple(f"blob{c}" for c in range(centers)), "blobs")


@component(category="datasets")
def make_moons(
    n_samples: Annotated[int, Bounds(2, 100_000)] = 200,
    noise: Annotated[float, Bounds(0.0, 10.0)] = 0.1,
    seed: int = 0,
) -> Dataset:
    """Two interleaving half circles in 2-D: a classic problem no line separates.

    The upper moon is the unit half circle ``(cos t, sin t)``, the lower one
    ``(1 - cos t, 0.5 - sin t)``, ``t`` evenly spaced in ``[0, pi]``; Gaussian
    noise of standard deviation ``noise`` is added; rows are shuffled.

    Parameters
    ----------
    n_samples : int
        Total number of samples (half per moon, the extra one to the lower moon).
    noise : float
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int
        Seed of the random generator.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = make_moons(n_samples=100, seed=0).compute(cache=False)
    >>> ds.target_names, np.bincount(ds.y).tolist()
    (('upper', 'lower'), [50, 50])
    """
    rng = np.random.default_rng(seed)
    n_up = n_samples // 2
    n_low = n_samples - n_up
    t_up = np.linspace(0.0, np.pi, n_up)
    t_low = np.linspace(0.0, np.pi, n_low)
    X = np.concatenate([
        np.column_stack([np.cos(t_up), np.sin(t_up)]),
        np.column_stack([1.0 - np.cos(t_low), 0.5 - np.sin(t_low)]),
    ])
    y = np.concatenate([np.zeros(n_up, dtype=np.int64), np.ones(n_low, dtype=np.int64)])
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(n_samples)
    return Dataset(X[order], y[order], ("x0", "x1"), ("upper", "lower"), "moons")


@component(category="datasets")
def make_classification(
    n_samples: Annotated[int, Bounds(2, 100_000)] = 500,
    n_features: Annotated[int, Bounds(1, 1_000)] = 10,
    n_informative: Annotated[int, Bounds(1, 1_000)] = 4,
    n_classes: Annotated[int, Bounds(2, 20)] = 2,
    class_sep: Annotated[float, Bounds(0.0, 10.0)] = 1.0,
    seed: int = 0,
) -> Dataset:
    """A classification problem where only some features carry the class.

    In each of the ``n_informative`` informative features, the class means are a
    random permutation of ``n_classes`` evenly spaced values in
    ``[-class_sep, class_sep]``, so every informative feature separates the
    classes (some pairs better than others); samples are their class mean plus
    standard normal noise. The other ``n_features - n_informative`` features are
    pure noise. Columns are shuffled but keep telling names (``informative_i`` /
    ``noise_j``), so feature selection can be checked.

    Parameters
    ----------
    n_samples : int
        Number of samples (classes as equal in size as possible).
    n_features : int
        Total number of features.
    n_informative : int
        Number of features that depend on the class (at most ``n_features``).
    n_classes : int
        Number of classes.
    class_sep : float
        The class means of each informative feature span ``[-class_sep, class_sep]``.
    seed : int
        Seed of the random generator.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = make_classification(n_samples=40, n_features=5, n_informative=2).compute(cache=False)
    >>> ds.X.shape, sorted(ds.feature_names)[:2]
    ((40, 5), ['informative_0', 'informative_1'])
    """
    if n_informative > n_features:
        raise DataError(
            "make_classification: expected n_informative <= n_features, received "
            f"n_informative={n_informative}, n_features={n_features}. Raise n_features or "
            "lower n_informative."
        )
    rng = np.random.default_rng(seed)
    ladder = np.linspace(-class_sep, class_sep, n_classes)
    centroids = np.column_stack([rng.permutation(ladder) for _ in range(n_informative)])
    y = rng.permutation(np.arange(n_samples) % n_classes)
    informative = centroids[y] + rng.standard_normal((n_samples, n_informative))
    noise = rng.standard_normal((n_samples, n_features - n_informative))
    X = np.hstack([informative, noise])
    names = [f"informative_{i}" for i in range(n_informative)]
    names += [f"noise_{j}" for j in range(n_features - n_informative)]
    cols = rng.permutation(n_features)
    return Dataset(X[:, cols], y.astype(np.int64), tuple(names[c] for c in cols),
                   tuple(f"class_{c}" for c in range(n_classes)), "classification")
