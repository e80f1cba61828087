"""A small library of real machine-learning components, in numpy.

Every function below is a :func:`~pylearn_lab.graph.component.component`:
calling it builds a lazy, cached graph node; ``.compute()`` (or
``pylearn_lab.run``) evaluates it. Their categories group them in the graph
builder's palette. Values passed between them are
:class:`~pylearn_lab.components.data.Dataset`,
:class:`~pylearn_lab.components.data.Split` and
:class:`~pylearn_lab.components.data.Model` (plus arrays, floats and figures).

datasets
    :func:`load_iris` (Fisher's Iris, shipped, CC BY 4.0), :func:`make_blobs`,
    :func:`make_moons`, :func:`make_classification` (seeded generators)
preprocessing
    :func:`standardize`, :func:`pca`, :func:`select_features` -- on a Split,
    fitted on the train part and applied to both
splits
    :func:`train_test_split`, :func:`kfold` (one fold per node; all of them with
    the plain helper :func:`kfold_splits`)
models
    :func:`logistic_regression`, :func:`mlp` (SGD, seeded, with a history),
    :func:`kmeans`, :func:`predict`, :func:`predict_proba`
metrics
    :func:`accuracy`, :func:`log_loss`, :func:`evaluate`
plots
    :func:`plot_history`, :func:`plot_scatter`, :func:`plot_decision_map`

Examples
--------
>>> from pylearn_lab.components import load_iris, standardize, train_test_split
>>> from pylearn_lab.components import logistic_regression, evaluate
>>> split = standardize(train_test_split(load_iris(), test_size=0.25, seed=0))
>>> scores = evaluate(logistic_regression(split), split).compute(cache=False)
>>> {name: round(value, 3) for name, value in scores.items()}
{'accuracy': 0.921, 'log_loss': 0.254}
"""

from __future__ import annotations

from .clustering import kmeans
from .data import Dataset, Model, Split
from .datasets import load_iris, make_blobs, make_classification, make_moons
from .inference import predict, predict_proba
from .metrics import accuracy, evaluate, log_loss
from .models import logistic_regression, mlp
from .plots import plot_decision_map, plot_history, plot_scatter
from .preprocessing import pca, select_features, standardize
from .splits import kfold, kfold_splits, train_test_split

__all__ = [
    # values
    "Dataset",
    "Split",
    "Model",
    # datasets
    "load_iris",
    "make_blobs",
    "make_moons",
    "make_classification",
    # preprocessing
    "standardize",
    "pca",
    "select_features",
    # splits
    "train_test_split",
    "kfold",
    "kfold_splits",
    # models
    "logistic_regression",
    "mlp",
    "kmeans",
    "predict",
    "predict_proba",
    # metrics
    "accuracy",
    "log_loss",
    "evaluate",
    # plots
    "plot_history",
    "plot_scatter",
    "plot_decision_map",
]
