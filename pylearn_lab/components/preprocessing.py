"""Preprocessing components: standardize, PCA and feature selection.

Each takes a :class:`~pylearn_lab.components.data.Dataset` or a
:class:`~pylearn_lab.components.data.Split` and returns the same kind. On a
Split the transform is *fitted on the train part only* and then applied to both
parts, so nothing about the test samples leaks into training.

Examples
--------
>>> from pylearn_lab.components import load_iris, train_test_split
>>> split = standardize(train_test_split(load_iris())).compute(cache=False)
>>> bool(abs(split.train.X.mean()) < 1e-12)
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import numpy as np

from ..errors import DataError
from ..graph.component import component
from ..graph.params import Bounds
from .data import Dataset, Split, labels_of, train_part

__all__ = ["standardize", "pca", "select_features", "pca_basis", "f_scores"]

S = TypeVar("S")


def _fit_apply(
    data: Any, who: str, fit: Callable[[Dataset], S], apply: Callable[[Dataset, S], Dataset],
) -> Dataset | Split:
    """Fit on the train part; apply to the Dataset, or to both parts of a Split."""
    state = fit(train_part(data, who))
    if isinstance(data, Split):
        return Split(apply(data.train, state), apply(data.test, state))
    return apply(data, state)


@component(category="preprocessing")
def standardize(data: Dataset | Split) -> Dataset | Split:
    """Center each feature and scale it to unit variance (statistics of the train part).

    Constant features are centered and left unscaled (their standard deviation
    would be zero).

    Parameters
    ----------
    data : Dataset or Split
        What to transform; a Split is scaled with its train part's mean and std.

    Returns
    -------
    Dataset or Split
        The same kind as ``data``.

    Examples
    --------
    >>> from pylearn_lab.components import load_iris
    >>> X = standardize(load_iris()).compute(cache=False).X
    >>> np.allclose(X.mean(axis=0), 0), np.allclose(X.std(axis=0), 1)
    (True, True)
    """

    def fit(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
        std = ds.X.std(axis=0)
        return ds.X.mean(axis=0), np.where(std > 0, std, 1.0)

    def apply(ds: Dataset, state: tuple[np.ndarray, np.ndarray]) -> Dataset:
        mean, std = state
        return ds.with_features((ds.X - mean) / std, ds.feature_names)

    return _fit_apply(data, "standardize", fit, apply)


def pca_basis(X: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, principal axes and explained variances of ``X`` (a plain helper of :func:`pca`).

    Axes come from the SVD of the centered data; each axis's sign is fixed so
    that its largest-magnitude loading is positive (SVD signs are arbitrary,
    results here must be reproducible).

    Returns
    -------
    mean : ndarray of shape (n_features,)
    components : ndarray of shape (n_components, n_features)
        Orthonormal rows, by decreasing variance.
    explained_variance : ndarray of shape (n_components,)
        Variance of the data along each axis (``ddof=1``).

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]])
    >>> mean, comps, var = pca_basis(X, 1)
    >>> mean.tolist(), comps.tolist(), var.round(12).tolist()
    ([2.0, 0.0], [[1.0, 0.0]], [4.0])
    """
    n, d = X.shape
    if not 1 <= n_components <= min(n, d):
        raise DataError(
            f"pca: expected 1 <= n_components <= min(n_samples, n_features) = {min(n, d)}, "
            f"received n_components={n_components}. Ask for fewer components."
        )
    mean = X.mean(axis=0)
    _, s, vt = np.linalg.svd(X - mean, full_matrices=False)
    comps = vt[:n_components]
    signs = np.sign(comps[np.arange(n_components), np.abs(comps).argmax(axis=1)])
    comps = comps * np.where(signs == 0, 1.0, signs)[:, None]
    return mean, comps, s[:n_components] ** 2 / max(n - 1, 1)


@component(category="preprocessing")
def pca(data: Dataset | Split, n_components: Annotated[int, Bounds(1, 100)] = 2) -> Dataset | Split:
    """Project onto the first principal components (axes fitted on the train part).

    Parameters
    ----------
    data : Dataset or Split
        What to project; a Split is projected on its train part's axes.
    n_components : int
        How many components to keep (at most the number of features).

    Returns
    -------
    Dataset or Split
        Features ``pc1 .. pcN``, by decreasing variance.

    Examples
    --------
    >>> from pylearn_lab.components import load_iris
    >>> pca(load_iris(), n_components=2).compute(cache=False).X.shape
    (150, 2)
    """

    def fit(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
        mean, comps, _ = pca_basis(ds.X, n_components)
        return mean, comps

    def apply(ds: Dataset, state: tuple[np.ndarray, np.ndarray]) -> Dataset:
        mean, comps = state
        return ds.with_features((ds.X - mean) @ comps.T, [f"pc{i + 1}" for i in range(len(comps))])

    return _fit_apply(data, "pca", fit, apply)


def _pca_preflight(literals: dict[str, Any], inputs: dict[str, Any]) -> dict[str, str]:
    """The graph builder asks before running: more components than the input's features?"""
    n = literals.get("n_components", 2)
    data = inputs.get("data")
    part = data.train if isinstance(data, Split) else data
    if not isinstance(part, Dataset) or not isinstance(n, int):
        return {}
    d = min(part.X.shape)
    if n > d:
        return {"n_components": (
            f"expected n_components <= {d} (the input has {part.X.shape[1]} features and "
            f"{part.X.shape[0]} samples), received {n}. Lower n_components to at most {d}.")}
    return {}


pca.preflight = _pca_preflight  # type: ignore[attr-defined]  # read by the graph builder


def f_scores(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """One-way ANOVA F statistic of each column of ``X`` against the classes ``y``.

    ``F = (between-class sum of squares / (C - 1)) / (within-class sum of squares / (n - C))``;
    a column with no within-class spread scores ``inf`` (perfectly separating)
    or ``0`` (constant).

    Examples
    --------
    >>> f_scores(np.array([[0.0], [1.0], [10.0], [11.0]]), np.array([0, 0, 1, 1])).round(1).tolist()
    [200.0]
    """
    classes = np.unique(y)
    n, c = len(y), len(classes)
    if c < 2 or n <= c:
        raise DataError(
            f"select_features: the F score needs at least 2 classes and more samples than "
            f"classes, received {c} classes and {n} samples. Use score='variance' instead."
        )
    grand = X.mean(axis=0)
    between = np.zeros(X.shape[1])
    within = np.zeros(X.shape[1])
    for k in classes:
        part = X[y == k]
        mu = part.mean(axis=0)
        between += len(part) * (mu - grand) ** 2
        within += ((part - mu) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (between / (c - 1)) / (within / (n - c))
    return np.where(np.isnan(f), 0.0, f)


@component(category="preprocessing")
def select_features(
    data: Dataset | Split,
    k: Annotated[int, Bounds(1, 1_000)] = 2,
    score: Literal["f_score", "variance"] = "f_score",
) -> Dataset | Split:
    """Keep the k highest-scoring features (scores computed on the train part).

    Parameters
    ----------
    data : Dataset or Split
        What to reduce.
    k : int
        How many features to keep; they stay in their original order.
    score : {"f_score", "variance"}
        ``"f_score"``: ANOVA F statistic against the labels (see :func:`f_scores`);
        ``"variance"``: the feature's variance (needs no labels).

    Returns
    -------
    Dataset or Split

    Examples
    --------
    >>> from pylearn_lab.components import load_iris
    >>> select_features(load_iris(), k=2).compute(cache=False).feature_names
    ('petal_length_cm', 'petal_width_cm')
    """

    def fit(ds: Dataset) -> np.ndarray:
        if k > ds.n_features:
            raise DataError(
                f"select_features: expected k <= {ds.n_features} (the number of features), "
                f"received k={k}. Keep fewer features."
            )
        if score == "f_score":
            s = f_scores(ds.X, labels_of(ds, "select_features"))
        else:
            s = ds.X.var(axis=0)
        return np.sort(np.argsort(-s, kind="stable")[:k])

    def apply(ds: Dataset, cols: np.ndarray) -> Dataset:
        return ds.with_features(ds.X[:, cols], [ds.feature_names[c] for c in cols])

    return _fit_apply(data, "select_features", fit, apply)
