"""Logistic regression and MLP: stated accuracies on shipped and synthetic data; seeds; SGD."""

from __future__ import annotations

import numpy as np
import pytest

from pylearn_lab.components import (
    Dataset,
    Model,
    Split,
    load_iris,
    logistic_regression,
    make_blobs,
    make_moons,
    mlp,
    standardize,
    train_test_split,
)
from pylearn_lab.components.inference import labels
from pylearn_lab.errors import DataError
from pylearn_lab.graph.component import Component


def score(model: Model, ds: Dataset) -> float:
    """Accuracy of ``model`` on ``ds`` (plain, not through the metric component)."""
    return float((labels(model, ds.X) == ds.y).mean())


@pytest.fixture(scope="module")
def iris_split() -> Split:
    return standardize.fn(train_test_split.fn(load_iris.fn(), test_size=0.25, seed=0))


def test_logistic_regression_on_iris_reaches_90_percent(iris_split: Split) -> None:
    m = logistic_regression.fn(iris_split)  # defaults: lr=0.1, 100 epochs, batch 32
    assert m.kind == "logistic_regression" and m.classes.tolist() == [0, 1, 2]
    assert score(m, iris_split.test) >= 0.9
    assert len(m.history["loss"]) == len(m.history["accuracy"]) == 100
    assert m.history["loss"][-1] < 0.5 * m.history["loss"][0]
    assert m.history["accuracy"][-1] >= 0.9
    assert m.settings["feature_names"] == load_iris.fn().feature_names


def test_logistic_regression_separates_blobs() -> None:
    split = train_test_split.fn(make_blobs.fn(n_samples=300, spread=1.0, seed=0), seed=0)
    m = logistic_regression.fn(split, epochs=30)
    assert score(m, split.test) == 1.0


def test_one_full_batch_step_is_the_softmax_gradient() -> None:
    # From W = 0, b = 0 every class has probability 1/C, so one full-batch step gives
    # W = lr * X^T (Y - 1/C) / n and b = lr * mean(Y - 1/C): computed here by hand.
    ds = Dataset(np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]]), np.array([0, 1, 1]),
                 ("a", "b"), ("x", "y"), "tiny")
    m = logistic_regression.fn(ds, lr=0.5, epochs=1, batch_size=3)
    Y = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert np.allclose(m.params["W"], 0.5 * ds.X.T @ (Y - 0.5) / 3)
    assert np.allclose(m.params["b"], 0.5 * (Y - 0.5).mean(axis=0))


def test_l2_shrinks_weights_and_lr_zero_is_uniform(iris_split: Split) -> None:
    free = logistic_regression.fn(iris_split, epochs=20)
    decayed = logistic_regression.fn(iris_split, epochs=20, l2=0.1)
    assert np.linalg.norm(decayed.params["W"]) < np.linalg.norm(free.params["W"])
    frozen = logistic_regression.fn(iris_split, lr=0.0, epochs=2)
    assert np.allclose(frozen.history["loss"], np.log(3))


def test_mlp_solves_moons() -> None:
    split = standardize.fn(train_test_split.fn(make_moons.fn(n_samples=200, noise=0.1, seed=0)))
    linear = logistic_regression.fn(split)
    net = mlp.fn(split)  # defaults: 16 tanh units, lr=0.2, 200 epochs
    assert score(net, split.test) >= 0.9
    assert score(net, split.train) > score(linear, split.train)  # not linear
    assert net.params["W1"].shape == (2, 16) and net.params["W2"].shape == (16, 2)
    assert len(net.history["loss"]) == 200 and net.history["loss"][-1] < net.history["loss"][0]


def test_mlp_relu_learns_too() -> None:
    split = standardize.fn(train_test_split.fn(make_moons.fn(seed=1), seed=1))
    net = mlp.fn(split, activation="relu", hidden=32, epochs=150)
    assert net.settings["activation"] == "relu" and score(net, split.test) >= 0.9


@pytest.mark.parametrize("train, kw", [(logistic_regression, {"epochs": 5}),
                                       (mlp, {"epochs": 5, "hidden": 4})])
def test_seeds_reproduce_and_differ(iris_split: Split, train: Component, kw: dict) -> None:
    a, b = train.fn(iris_split, seed=3, **kw), train.fn(iris_split, seed=3, **kw)
    c = train.fn(iris_split, seed=4, **kw)
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name])
    assert a.history == b.history
    assert any(not np.array_equal(a.params[n], c.params[n]) for n in a.params)


def test_models_need_labels() -> None:
    plain = Dataset(np.zeros((4, 2)), None, ("a", "b"), (), "u")
    with pytest.raises(DataError, match="labelled dataset"):
        logistic_regression.fn(plain)
    with pytest.raises(DataError, match="labelled dataset"):
        mlp.fn(plain)
