"""What the softmax classifiers share: label encoding, softmax, cross-entropy, minibatches.

Plain functions (not components) used by :mod:`~pylearn_lab.components.models`
and :mod:`~pylearn_lab.components.inference`.

Examples
--------
>>> p = softmax(np.array([[0.0, np.log(3.0)]]))
>>> p.round(2).tolist()
[[0.25, 0.75]]
>>> [b.tolist() for b in minibatches(5, 2, np.random.default_rng(0))]
[[2, 4], [3, 0], [1]]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import DataError
from .data import Dataset, labels_of

__all__ = ["encode_labels", "softmax", "log_softmax", "cross_entropy", "minibatches", "one_hot"]


def encode_labels(ds: Dataset, who: str) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, codes)``: the distinct labels of ``ds`` and each sample's column in them."""
    y = labels_of(ds, who)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(
            f"{who}: expected at least 2 classes in the training data, received only "
            f"{classes.tolist()} in {ds!r}. Use a stratified split or more samples."
        )
    return classes, codes


def one_hot(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows of the identity: ``one_hot([1, 0], 2) == [[0, 1], [1, 0]]``."""
    return np.eye(n_classes)[codes]


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise ``log(softmax(z))``, computed stably (shifted by the row maximum)."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax: non-negative rows summing to one."""
    return np.exp(log_softmax(z))


def cross_entropy(logits: np.ndarray, codes: np.ndarray) -> float:
    """Mean negative log-likelihood of the true classes ``codes`` under ``softmax(logits)``."""
    logp = log_softmax(logits)
    return float(-logp[np.arange(len(codes)), codes].mean())


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield the indices ``0 .. n-1`` shuffled by ``rng``, in chunks of ``batch_size``."""
    order = rng.permutation(n)
    for start in range(0, n, max(batch_size, 1)):
        yield order[start:start + batch_size]
