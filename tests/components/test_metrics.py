"""accuracy, log_loss and evaluate against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from pylearn_lab.components import (
    Dataset,
    Model,
    Split,
    accuracy,
    evaluate,
    kmeans,
    log_loss,
    make_blobs,
)
from pylearn_lab.errors import DataError


def fixed_model() -> Model:
    """A 'trained' logistic regression that gives p = (0.75, 0.25) to every sample."""
    return Model("logistic_regression", {"W": np.zeros((1, 2)), "b": np.array([np.log(3.0), 0.0])},
                 np.array([0, 1]), {}, {"n_features": 1})


def data(y: list[int]) -> Dataset:
    return Dataset(np.zeros((len(y), 1)), np.array(y), ("x",), ("a", "b"), "d")


def test_accuracy_and_log_loss_by_hand() -> None:
    ds = data([0, 0, 1, 0])  # predicts class 0 everywhere: 3 of 4 right
    assert accuracy.fn(fixed_model(), ds) == 0.75
    expected = -(3 * np.log(0.75) + np.log(0.25)) / 4
    assert np.isclose(log_loss.fn(fixed_model(), ds), expected)


def test_metrics_score_the_test_part_of_a_split() -> None:
    split = Split(data([0, 0, 0, 0]), data([1, 1]))
    assert accuracy.fn(fixed_model(), split) == 0.0
    assert np.isclose(log_loss.fn(fixed_model(), split), -np.log(0.25))


def test_evaluate_returns_plain_floats() -> None:
    scores = evaluate.fn(fixed_model(), data([0, 1]))
    expected = {"accuracy": 0.5, "log_loss": -(np.log(0.75) + np.log(0.25)) / 2}
    assert scores == pytest.approx(expected)
    assert all(type(v) is float for v in scores.values())


def test_confident_mistakes_stay_finite() -> None:
    sure = Model("logistic_regression", {"W": np.zeros((1, 2)), "b": np.array([800.0, 0.0])},
                 np.array([0, 1]), {}, {"n_features": 1})
    assert np.isclose(log_loss.fn(sure, data([1])), -np.log(1e-15))


def test_unseen_labels_and_missing_labels_are_explained() -> None:
    with pytest.raises(DataError, match=r"labels \[2\] the model never saw"):
        log_loss.fn(fixed_model(), data([0, 2]))
    with pytest.raises(DataError, match="labelled dataset"):
        accuracy.fn(fixed_model(), Dataset(np.zeros((2, 1)), None, ("x",), (), "u"))


def test_evaluate_kmeans_reports_inertia_and_purity() -> None:
    blobs = make_blobs.fn(n_samples=90, spread=0.5, seed=0)
    m = kmeans.fn(blobs, k=3)
    scores = evaluate.fn(m, blobs)
    assert scores["purity"] == 1.0
    assert np.isclose(scores["inertia"], m.history["inertia"][-1])
    with pytest.raises(DataError, match="cluster ids are not class labels"):
        accuracy.fn(m, blobs)
