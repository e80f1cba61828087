"""Applying a trained model: ``predict`` and ``predict_proba`` components.

Given a :class:`~pylearn_lab.components.data.Split` they predict
``split.test``; given a Dataset, the whole of it. The plain functions
:func:`probabilities` and :func:`labels` do the work for any
:class:`~pylearn_lab.components.data.Model` kind and are shared with the metrics.

Examples
--------
>>> from pylearn_lab.components import load_iris, logistic_regression, standardize, train_test_split
>>> split = standardize(train_test_split(load_iris()))
>>> predict(logistic_regression(split, epochs=30), split).compute(cache=False).shape
(38,)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DataError
from ..graph.component import component
from .clustering import nearest_center
from .data import Dataset, Model, Split, check_model, eval_part
from .models import linear_logits, mlp_logits
from .training import softmax

__all__ = ["predict", "predict_proba", "probabilities", "labels"]


def probabilities(model: Model, X: np.ndarray) -> np.ndarray:
    """Class probabilities (samples x ``model.classes``) of a classifier model."""
    if model.kind == "logistic_regression":
        return softmax(linear_logits(model.params, X))
    if model.kind == "mlp":
        return softmax(mlp_logits(model.params, X, model.settings["activation"]))
    raise DataError(
        f"predict_proba: expected a classifier model (logistic_regression, mlp), received a "
        f"{model.kind!r} model, which gives no class probabilities. Use predict for cluster ids."
    )


def labels(model: Model, X: np.ndarray) -> np.ndarray:
    """Predicted label of each row of ``X`` (the cluster id for k-means)."""
    if model.kind == "kmeans":
        return nearest_center(X, model.params["centers"])[0]
    return model.classes[probabilities(model, X).argmax(axis=1)]


def _target(model: Any, data: Any, who: str) -> tuple[Model, Dataset]:
    ds = eval_part(data, who)
    return check_model(model, ds, who), ds


@component(category="models")
def predict(model: Model, data: Dataset | Split) -> np.ndarray:
    """Predicted label of each sample (of the test part of a Split).

    Parameters
    ----------
    model : Model
        A trained model (classifier or k-means).
    data : Dataset or Split
        Samples with the features the model was trained on.

    Returns
    -------
    ndarray of shape (n_samples,)
        Label codes (``data.target_names[code]`` names them); cluster ids for k-means.

    Examples
    --------
    >>> from pylearn_lab.components import make_blobs, kmeans
    >>> blobs = make_blobs(n_samples=30, centers=2)
    >>> predict(kmeans(blobs, k=2), blobs).compute(cache=False).shape
    (30,)
    """
    m, ds = _target(model, data, "predict")
    return labels(m, ds.X)


@component(category="models")
def predict_proba(model: Model, data: Dataset | Split) -> np.ndarray:
    """Class probabilities of each sample (of the test part of a Split).

    Parameters
    ----------
    model : Model
        A trained classifier (``logistic_regression`` or ``mlp``).
    data : Dataset or Split
        Samples with the features the model was trained on.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Rows sum to one; column ``j`` is class ``model.classes[j]``.

    Examples
    --------
    >>> from pylearn_lab.components import make_blobs, logistic_regression
    >>> blobs = make_blobs(n_samples=30)
    >>> p = predict_proba(logistic_regression(blobs, epochs=5), blobs).compute(cache=False)
    >>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
    ((30, 3), True)
    """
    m, ds = _target(model, data, "predict_proba")
    return probabilities(m, ds.X)
