"""Split components: a seeded train/test split and one fold of k-fold cross-validation.

Both are stratified by default: each class keeps (as nearly as integer counts
allow) its share of the samples in every part. Samples keep their original
order inside each part, so a split is fully determined by ``(data, seed)``.

:func:`kfold` returns *one* fold, so the ``k`` folds of a cross-validation are
``k`` separate, separately cached nodes that can run in parallel;
:func:`kfold_splits` builds all of them.

Examples
--------
>>> from pylearn_lab.components import load_iris
>>> s = train_test_split(load_iris(), test_size=0.2).compute(cache=False)
>>> s.train.n_samples, s.test.n_samples
(120, 30)
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np

from ..errors import DataError
from ..graph.component import component
from ..graph.params import Bounds
from .data import Dataset, Split

__all__ = ["train_test_split", "kfold", "kfold_splits"]


def _as_dataset(data: Any, who: str) -> Dataset:
    if isinstance(data, Dataset):
        return data
    raise DataError(
        f"{who}: expected a Dataset, received {type(data).__name__}. Split a dataset "
        "component's output (e.g. load_iris()); to split again, pass split.train yourself."
    )


def _quotas(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over groups in proportion to ``counts`` (largest remainders)."""
    exact = counts * total / counts.sum()
    quota = np.floor(exact).astype(int)
    short = total - quota.sum()
    # ties broken by group order (stable sort): deterministic
    quota[np.argsort(-(exact - quota), kind="stable")[:short]] += 1
    return quota


@component(category="splits")
def train_test_split(
    data: Dataset,
    test_size: Annotated[float, Bounds(0.0, 1.0)] = 0.25,
    seed: int = 0,
    stratify: bool = True,
) -> Split:
    """Split a dataset into seeded, disjoint train and test parts.

    Parameters
    ----------
    data : Dataset
        The samples to split.
    test_size : float
        Fraction of samples in the test part (rounded; each part gets at least one).
    seed : int
        Seed of the random choice of test samples.
    stratify : bool
        Keep each class's proportion in both parts (ignored for unlabelled data).

    Returns
    -------
    Split

    Examples
    --------
    >>> from pylearn_lab.components import load_iris
    >>> s = train_test_split(load_iris(), test_size=0.2, seed=3).compute(cache=False)
    >>> np.bincount(s.test.y).tolist()
    [10, 10, 10]
    """
    ds = _as_dataset(data, "train_test_split")
    n = ds.n_samples
    if n < 2 or not 0.0 < test_size < 1.0:
        raise DataError(
            f"train_test_split: expected 0 < test_size < 1 and at least 2 samples, received "
            f"test_size={test_size} and {ds!r}. Pass a fraction such as 0.25."
        )
    n_test = int(min(max(round(test_size * n), 1), n - 1))
    rng = np.random.default_rng(seed)
    if stratify and ds.y is not None:
        classes, counts = np.unique(ds.y, return_counts=True)
        quota = _quotas(counts, n_test)
        test = np.concatenate([
            rng.permutation(np.flatnonzero(ds.y == c))[:q] for c, q in zip(classes, quota)
        ])
    else:
        test = rng.permutation(n)[:n_test]
    is_test = np.zeros(n, dtype=bool)
    is_test[test] = True
    return Split(ds.take(np.flatnonzero(~is_test)), ds.take(np.flatnonzero(is_test)))


def _fold_of(ds: Dataset, k: int, seed: int, stratify: bool) -> np.ndarray:
    """The fold number (0 .. k-1) of every sample."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(ds.n_samples)
    if stratify and ds.y is not None:
        # group the shuffled samples by class, then deal them out round-robin
        order = order[np.argsort(ds.y[order], kind="stable")]
    fold = np.empty(ds.n_samples, dtype=int)
    fold[order] = np.arange(ds.n_samples) % k
    return fold


@component(category="splits")
def kfold(
    data: Dataset,
    k: Annotated[int, Bounds(2, 100)] = 5,
    fold: Annotated[int, Bounds(0, 99)] = 0,
    seed: int = 0,
    stratify: bool = True,
) -> Split:
    """One fold of a seeded k-fold cross-validation: that fold tests, the rest train.

    Across ``fold = 0 .. k-1`` (same ``k`` and ``seed``) every sample is in
    exactly one test part. Fold sizes differ by at most one sample.

    Parameters
    ----------
    data : Dataset
        The samples to split.
    k : int
        Number of folds.
    fold : int
        Which fold is the test part (``0 <= fold < k``).
    seed : int
        Seed of the assignment of samples to folds.
    stratify : bool
        Spread each class evenly over the folds (ignored for unlabelled data).

    Returns
    -------
    Split

    Examples
    --------
    >>> from pylearn_lab.components import load_iris
    >>> s = kfold(load_iris(), k=5, fold=2).compute(cache=False)
    >>> s.train.n_samples, s.test.n_samples
    (120, 30)
    """
    ds = _as_dataset(data, "kfold")
    if not 0 <= fold < k or k > ds.n_samples:
        raise DataError(
            f"kfold: expected 0 <= fold < k <= n_samples, received fold={fold}, k={k} for "
            f"{ds!r}. Pick a fold number below k."
        )
    in_test = _fold_of(ds, k, seed, stratify) == fold
    return Split(ds.take(np.flatnonzero(~in_test)), ds.take(np.flatnonzero(in_test)))


def kfold_splits(data: Any, k: int = 5, seed: int = 0, stratify: bool = True) -> list[Any]:
    """All ``k`` folds as expressions ``[kfold(data, k, 0, seed), ..., kfold(data, k, k-1, seed)]``.

    A plain helper (not a component): the folds are separate graph nodes, so
    they are cached and scheduled independently.

    Examples
    --------
    >>> from pylearn_lab.components import load_iris
    >>> [e.label for e in kfold_splits(load_iris(), k=3)]
    ['kfold', 'kfold', 'kfold']
    """
    return [kfold(data, k=k, fold=i, seed=seed, stratify=stratify) for i in range(k)]
