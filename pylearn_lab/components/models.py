"""Classifier components trained by seeded minibatch SGD: logistic regression and an MLP.

Both minimise the mean softmax cross-entropy plus ``l2 / 2`` times the squared
weights (biases are not penalised), shuffle the training samples each epoch
with ``numpy.random.default_rng(seed)``, and record after every epoch the full
training loss and accuracy in ``model.history`` (lists with one float per
epoch). Given a :class:`~pylearn_lab.components.data.Split` they train on
``split.train``.

Both run their epochs in a :class:`~pylearn_lab.training.Trainer` with
``length="epochs"``: computed in a graph with a cache, a longer training
resumes from the checkpoint of a shorter (or killed) one with the same other
arguments, and returns bitwise what a run from scratch returns.

Examples
--------
>>> from pylearn_lab.components import load_iris, standardize
>>> m = logistic_regression(standardize(load_iris()), epochs=20).compute(cache=False)
>>> m.kind, len(m.history["loss"])
('logistic_regression', 20)
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np

from ..graph.component import component
from ..graph.params import Bounds
from ..training.loop import Trainer
from .data import Dataset, Model, Split, train_part
from .training import cross_entropy, encode_labels, minibatches, one_hot, softmax

__all__ = ["linear_logits", "logistic_regression", "mlp", "mlp_logits"]


def linear_logits(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Class scores ``X @ W + b`` of a logistic regression."""
    return X @ params["W"] + params["b"]


def _activate(a: np.ndarray, activation: str) -> np.ndarray:
    return np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)


def mlp_logits(params: dict[str, np.ndarray], X: np.ndarray, activation: str) -> np.ndarray:
    """Class scores of a one-hidden-layer network: ``act(X @ W1 + b1) @ W2 + b2``."""
    hidden = _activate(X @ params["W1"] + params["b1"], activation)
    return hidden @ params["W2"] + params["b2"]


def _track(logits: np.ndarray, codes: np.ndarray, penalty: float) -> dict[str, float]:
    return {"loss": cross_entropy(logits, codes) + penalty,
            "accuracy": float((logits.argmax(axis=1) == codes).mean())}


def _settings(ds: Dataset, **hyper: object) -> dict[str, object]:
    return {**hyper, "n_features": ds.n_features, "feature_names": ds.feature_names,
            "target_names": ds.target_names}


@component(category="models")
def logistic_regression(
    data: Dataset | Split,
    lr: Annotated[float, Bounds(0.0, 10.0)] = 0.1,
    epochs: Annotated[int, Bounds(1, 10_000)] = 100,
    l2: Annotated[float, Bounds(0.0, 10.0)] = 0.0,
    batch_size: Annotated[int, Bounds(1, 4_096)] = 32,
    seed: int = 0,
) -> Model:
    """Multinomial logistic regression (softmax) trained by minibatch SGD.

    Weights start at zero (the problem is convex), so ``seed`` only orders the
    minibatches.

    Parameters
    ----------
    data : Dataset or Split
        Labelled training data (``split.train`` for a Split).
    lr : float
        SGD step size.
    epochs : int
        Passes over the training data.
    l2 : float
        Weight decay: penalty ``l2 / 2 * ||W||^2``.
    batch_size : int
        Samples per SGD step.
    seed : int
        Seed of the shuffling.

    Returns
    -------
    Model
        ``kind="logistic_regression"``, ``params`` ``W`` (features x classes) and ``b``;
        ``history`` ``loss`` and ``accuracy`` per epoch.

    Examples
    --------
    >>> from pylearn_lab.components import make_blobs
    >>> m = logistic_regression(make_blobs(n_samples=60), epochs=5).compute(cache=False)
    >>> m.params["W"].shape, m.history["accuracy"][-1]
    ((2, 3), 1.0)
    """
    ds = train_part(data, "logistic_regression")
    classes, codes = encode_labels(ds, "logistic_regression")
    X, Y = ds.X, one_hot(codes, len(classes))

    def init(rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"W": np.zeros((ds.n_features, len(classes))), "b": np.zeros(len(classes))}

    def epoch(p: dict[str, np.ndarray], t: int, rng: np.random.Generator) -> dict[str, float]:
        W, b = p["W"], p["b"]
        for idx in minibatches(len(X), batch_size, rng):
            grad = (softmax(X[idx] @ W + b) - Y[idx]) / len(idx)
            W -= lr * (X[idx].T @ grad + l2 * W)
            b -= lr * grad.sum(axis=0)
        return _track(X @ W + b, codes, 0.5 * l2 * float((W ** 2).sum()))

    run = Trainer(init, epoch, epochs, seed=seed, length="epochs",
                  examples_per_step=len(X)).run()
    settings = _settings(ds, lr=lr, epochs=epochs, l2=l2, batch_size=batch_size, seed=seed)
    return Model("logistic_regression", run.state, classes, run.history, settings)


@component(category="models")
def mlp(
    data: Dataset | Split,
    hidden: Annotated[int, Bounds(1, 1_024)] = 16,
    lr: Annotated[float, Bounds(0.0, 10.0)] = 0.2,
    epochs: Annotated[int, Bounds(1, 10_000)] = 200,
    l2: Annotated[float, Bounds(0.0, 10.0)] = 0.0,
    batch_size: Annotated[int, Bounds(1, 4_096)] = 32,
    activation: Literal["tanh", "relu"] = "tanh",
    seed: int = 0,
) -> Model:
    """A one-hidden-layer neural network classifier trained by minibatch SGD.

    Weights start as Gaussian noise scaled by the fan-in (``1/fan_in`` variance
    for tanh, ``2/fan_in`` for relu); ``seed`` sets both the initial weights and
    the minibatch order.

    Parameters
    ----------
    data : Dataset or Split
        Labelled training data (``split.train`` for a Split).
    hidden : int
        Number of hidden units.
    lr : float
        SGD step size.
    epochs : int
        Passes over the training data.
    l2 : float
        Weight decay on both weight matrices.
    batch_size : int
        Samples per SGD step.
    activation : {"tanh", "relu"}
        Hidden-layer non-linearity.
    seed : int
        Seed of the initial weights and the shuffling.

    Returns
    -------
    Model
        ``kind="mlp"``, ``params`` ``W1, b1, W2, b2``; ``history`` ``loss`` and
        ``accuracy`` per epoch; ``settings["activation"]``.

    Examples
    --------
    >>> from pylearn_lab.components import make_moons
    >>> m = mlp(make_moons(n_samples=60), hidden=8, epochs=3).compute(cache=False)
    >>> m.params["W1"].shape, len(m.history["loss"])
    ((2, 8), 3)
    """
    ds = train_part(data, "mlp")
    classes, codes = encode_labels(ds, "mlp")
    X, Y = ds.X, one_hot(codes, len(classes))
    gain = 1.0 if activation == "tanh" else 2.0

    def init(rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {
            "W1": rng.standard_normal((ds.n_features, hidden)) * np.sqrt(gain / ds.n_features),
            "b1": np.zeros(hidden),
            "W2": rng.standard_normal((hidden, len(classes))) * np.sqrt(1.0 / hidden),
            "b2": np.zeros(len(classes)),
        }

    def epoch(p: dict[str, np.ndarray], t: int, rng: np.random.Generator) -> dict[str, float]:
        for idx in minibatches(len(X), batch_size, rng):
            pre = X[idx] @ p["W1"] + p["b1"]
            act = _activate(pre, activation)
            g_out = (softmax(act @ p["W2"] + p["b2"]) - Y[idx]) / len(idx)
            slope = 1.0 - act ** 2 if activation == "tanh" else (pre > 0).astype(float)
            g_hid = (g_out @ p["W2"].T) * slope
            p["W2"] -= lr * (act.T @ g_out + l2 * p["W2"])
            p["b2"] -= lr * g_out.sum(axis=0)
            p["W1"] -= lr * (X[idx].T @ g_hid + l2 * p["W1"])
            p["b1"] -= lr * g_hid.sum(axis=0)
        penalty = 0.5 * l2 * float((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())
        return _track(mlp_logits(p, X, activation), codes, penalty)

    run = Trainer(init, epoch, epochs, seed=seed, length="epochs",
                  examples_per_step=len(X)).run()
    settings = _settings(ds, hidden=hidden, lr=lr, epochs=epochs, l2=l2,
                         batch_size=batch_size, activation=activation, seed=seed)
    return Model("mlp", run.state, classes, run.history, settings)
