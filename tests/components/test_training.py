"""Softmax, cross-entropy, label encoding and minibatches against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from pylearn_lab.components import Dataset
from pylearn_lab.components.training import (
    cross_entropy,
    encode_labels,
    log_softmax,
    minibatches,
    one_hot,
    softmax,
)
from pylearn_lab.errors import DataError


def test_softmax_by_hand_and_stable() -> None:
    assert np.allclose(softmax(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]])
    big = softmax(np.array([[1000.0, 1000.0, -1000.0]]))
    assert np.allclose(big, [[0.5, 0.5, 0.0]])
    assert np.isfinite(log_softmax(np.array([[1e4, 0.0]]))).all()


def test_cross_entropy_by_hand() -> None:
    logits = np.array([[np.log(3.0), 0.0], [0.0, 0.0]])
    # p(true) = 0.75 for row 0 (class 0) and 0.5 for row 1 (class 1)
    assert np.isclose(cross_entropy(logits, np.array([0, 1])), -(np.log(0.75) + np.log(0.5)) / 2)


def test_encode_labels_and_one_hot() -> None:
    ds = Dataset(np.zeros((4, 1)), np.array([2, 5, 2, 5]), ("a",), (), "t")
    classes, codes = encode_labels(ds, "f")
    assert classes.tolist() == [2, 5] and codes.tolist() == [0, 1, 0, 1]
    assert one_hot(codes, 2).tolist() == [[1, 0], [0, 1], [1, 0], [0, 1]]
    with pytest.raises(DataError, match="at least 2 classes"):
        encode_labels(Dataset(np.zeros((2, 1)), np.array([1, 1]), ("a",), (), "t"), "f")


def test_minibatches_partition_the_samples() -> None:
    batches = list(minibatches(10, 4, np.random.default_rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
