"""train_test_split and kfold: sizes, disjointness, stratification, coverage, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from pylearn_lab.components import Dataset, Split, kfold, kfold_splits, train_test_split
from pylearn_lab.components.splits import _quotas
from pylearn_lab.errors import DataError


def ids(n: int = 100, weights: tuple[int, ...] = (60, 30, 10)) -> Dataset:
    """Samples whose only feature is their row number, with unequal classes."""
    y = np.repeat(np.arange(len(weights)), np.array(weights) * n // sum(weights))
    return Dataset(np.arange(len(y), dtype=float)[:, None], y, ("id",),
                   tuple(f"c{i}" for i in range(len(weights))), "ids")


def rows(ds: Dataset) -> list[int]:
    return ds.X[:, 0].astype(int).tolist()


def test_train_test_split_sizes_disjoint_and_complete() -> None:
    s = train_test_split.fn(ids(), test_size=0.25, seed=0)
    assert (s.train.n_samples, s.test.n_samples) == (75, 25)
    assert not set(rows(s.train)) & set(rows(s.test))
    assert sorted(rows(s.train) + rows(s.test)) == list(range(100))
    assert rows(s.train) == sorted(rows(s.train))  # original order kept
    assert np.array_equal(s.test.y, ids().y[rows(s.test)])  # labels travel with their rows


def test_stratified_split_keeps_class_proportions() -> None:
    s = train_test_split.fn(ids(200), test_size=0.2, seed=3)
    assert np.bincount(s.test.y).tolist() == [24, 12, 4]
    assert np.bincount(s.train.y).tolist() == [96, 48, 16]


def test_unstratified_split_and_unlabelled_data() -> None:
    s = train_test_split.fn(ids(), test_size=0.3, seed=0, stratify=False)
    assert s.test.n_samples == 30
    plain = Dataset(np.arange(10.0)[:, None], None, ("id",), (), "u")
    s = train_test_split.fn(plain, test_size=0.5)
    assert s.test.n_samples == 5 and s.test.y is None


def test_quotas_use_largest_remainders() -> None:
    assert _quotas(np.array([50, 50, 50]), 38).tolist() == [13, 13, 12]
    assert _quotas(np.array([60, 30, 10]), 25).tolist() == [15, 8, 2]


def test_split_seeds() -> None:
    a, b = train_test_split.fn(ids(), seed=1), train_test_split.fn(ids(), seed=1)
    c = train_test_split.fn(ids(), seed=2)
    assert rows(a.test) == rows(b.test) and rows(a.test) != rows(c.test)


def test_split_errors() -> None:
    with pytest.raises(DataError, match="0 < test_size < 1"):
        train_test_split.fn(ids(), test_size=1.0)
    s = train_test_split.fn(ids())
    with pytest.raises(DataError, match="expected a Dataset, received Split"):
        train_test_split.fn(s)


def test_kfold_covers_every_sample_exactly_once() -> None:
    ds = ids(103, (50, 40, 13))
    folds = [kfold.fn(ds, k=5, fold=f, seed=4) for f in range(5)]
    tested = [r for s in folds for r in rows(s.test)]
    assert sorted(tested) == list(range(ds.n_samples))
    sizes = [s.test.n_samples for s in folds]
    assert max(sizes) - min(sizes) <= 1
    for s in folds:
        assert sorted(rows(s.train) + rows(s.test)) == list(range(ds.n_samples))
        assert not set(rows(s.train)) & set(rows(s.test))
        counts = np.bincount(s.test.y, minlength=3)
        assert np.all(np.abs(counts - np.array([50, 40, 13]) / 5) <= 1)  # stratified


def test_kfold_seeds_and_errors() -> None:
    assert rows(kfold.fn(ids(), fold=1, seed=0).test) == rows(kfold.fn(ids(), fold=1, seed=0).test)
    assert rows(kfold.fn(ids(), fold=1, seed=0).test) != rows(kfold.fn(ids(), fold=1, seed=1).test)
    plain = kfold.fn(ids(), k=4, fold=0, stratify=False)
    assert plain.test.n_samples == 25
    with pytest.raises(DataError, match="0 <= fold < k"):
        kfold.fn(ids(), k=3, fold=3)


def test_kfold_splits_are_separate_nodes() -> None:
    from pylearn_lab.components import load_iris

    exprs = kfold_splits(load_iris(), k=4, seed=2)
    assert len({e.key for e in exprs}) == 4
    assert exprs[3].key == kfold(load_iris(), k=4, fold=3, seed=2).key
    assert all(isinstance(kfold.fn(load_iris.fn(), k=4, fold=i, seed=2), Split) for i in range(4))
