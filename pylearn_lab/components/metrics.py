"""Metric components: accuracy, log-loss, and ``evaluate`` returning both as plain floats.

Given a :class:`~pylearn_lab.components.data.Split` they score ``split.test``;
given a Dataset, the whole of it. Results are Python floats (and a dict of
them), which the results database tabulates directly.

Examples
--------
>>> from pylearn_lab.components import load_iris, logistic_regression, standardize, train_test_split
>>> split = standardize(train_test_split(load_iris()))
>>> scores = evaluate(logistic_regression(split), split).compute(cache=False)
>>> sorted(scores), scores["accuracy"] >= 0.9
(['accuracy', 'log_loss'], True)
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..graph.component import component
from .clustering import nearest_center
from .data import Dataset, Model, Split, check_model, eval_part, labels_of
from .inference import labels, probabilities

__all__ = ["accuracy", "log_loss", "evaluate", "accuracy_score", "log_loss_score"]

_EPS = 1e-15  # probabilities are clipped to [eps, 1] so one confident mistake stays finite


def accuracy_score(model: Model, ds: Dataset, who: str = "accuracy") -> float:
    """Fraction of samples of ``ds`` whose predicted label equals the true one."""
    if model.kind == "kmeans":
        raise DataError(
            f"{who}: expected a classifier model, received a 'kmeans' model whose cluster ids "
            "are not class labels. Use evaluate(model, data) for its inertia and purity."
        )
    y = labels_of(ds, who)
    return float((labels(model, ds.X) == y).mean())


def log_loss_score(model: Model, ds: Dataset, who: str = "log_loss") -> float:
    """Mean ``-log p(true class)`` over ``ds`` (natural log; p clipped at 1e-15)."""
    y = labels_of(ds, who)
    p = probabilities(model, ds.X)
    col = np.searchsorted(model.classes, y)
    last = len(model.classes) - 1
    known = (col <= last) & (model.classes[np.minimum(col, last)] == y)
    if not known.all():
        raise DataError(
            f"{who}: the data has labels {sorted(set(y[~known].tolist()))} the model never saw "
            f"(it knows {model.classes.tolist()}). Use a stratified split so training sees "
            "every class."
        )
    return float(-np.log(np.clip(p[np.arange(len(y)), col], _EPS, 1.0)).mean())


def _purity(model: Model, ds: Dataset) -> float:
    """Fraction of samples in their cluster's majority class."""
    y = labels_of(ds, "evaluate")
    clusters = nearest_center(ds.X, model.params["centers"])[0]
    hits = sum(np.bincount(y[clusters == c]).max() for c in np.unique(clusters))
    return float(hits / len(y))


@component(category="metrics")
def accuracy(model: Model, data: Dataset | Split) -> float:
    """Fraction of correctly predicted labels (on the test part of a Split).

    Parameters
    ----------
    model : Model
        A trained classifier.
    data : Dataset or Split
        Labelled samples.

    Returns
    -------
    float
        In ``[0, 1]``.

    Examples
    --------
    >>> from pylearn_lab.components import make_blobs, logistic_regression
    >>> blobs = make_blobs(n_samples=60, spread=0.5)
    >>> accuracy(logistic_regression(blobs, epochs=10), blobs).compute(cache=False)
    1.0
    """
    ds = eval_part(data, "accuracy")
    return accuracy_score(check_model(model, ds, "accuracy"), ds)


@component(category="metrics")
def log_loss(model: Model, data: Dataset | Split) -> float:
    """Mean negative log-likelihood of the true labels (on the test part of a Split).

    Parameters
    ----------
    model : Model
        A trained classifier (gives probabilities).
    data : Dataset or Split
        Labelled samples.

    Returns
    -------
    float
        ``0`` for certain and correct predictions; ``log(n_classes)`` for uniform guesses.

    Examples
    --------
    >>> from pylearn_lab.components import make_blobs, logistic_regression
    >>> blobs = make_blobs(n_samples=60)
    >>> round(log_loss(logistic_regression(blobs, lr=0.0, epochs=1), blobs).compute(cache=False), 4)
    1.0986
    """
    ds = eval_part(data, "log_loss")
    return log_loss_score(check_model(model, ds, "log_loss"), ds)


@component(category="metrics")
def evaluate(model: Model, data: Dataset | Split) -> dict[str, float]:
    """Score a model in one call: accuracy and log-loss (on the test part of a Split).

    For a k-means model: ``{"inertia"}`` (sum of squared distances to the
    nearest center) and, for labelled data, ``"purity"`` (fraction of samples in
    their cluster's majority class).

    Parameters
    ----------
    model : Model
        A trained model.
    data : Dataset or Split
        Samples to score.

    Returns
    -------
    dict of str to float
        Plain floats, ready for the results table.

    Examples
    --------
    >>> from pylearn_lab.components import make_blobs, kmeans
    >>> blobs = make_blobs(n_samples=60, spread=0.5)
    >>> evaluate(kmeans(blobs, k=3), blobs).compute(cache=False)["purity"]
    1.0
    """
    ds = eval_part(data, "evaluate")
    m = check_model(model, ds, "evaluate")
    if m.kind == "kmeans":
        scores = {"inertia": nearest_center(ds.X, m.params["centers"])[1]}
        if ds.y is not None:
            scores["purity"] = _purity(m, ds)
        return scores
    return {"accuracy": accuracy_score(m, ds, "evaluate"),
            "log_loss": log_loss_score(m, ds, "evaluate")}
