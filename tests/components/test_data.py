"""Dataset, Split and Model: validation, short reprs, pickling, canonical hashing."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pylearn_lab.components.data import (
    Dataset,
    Model,
    Split,
    check_model,
    eval_part,
    labels_of,
    train_part,
)
from pylearn_lab.errors import DataError
from pylearn_lab.hashing import hash_value


def toy(n: int = 6) -> Dataset:
    return Dataset(np.arange(2 * n, dtype=float).reshape(n, 2), np.arange(n) % 2,
                   ("a", "b"), ("no", "yes"), "toy")


def toy_model() -> Model:
    return Model("logistic_regression", {"W": np.ones((2, 2)), "b": np.zeros(2)},
                 np.array([0, 1]), {"loss": [0.7, 0.5], "accuracy": [0.5, 1.0]},
                 {"n_features": 2, "lr": 0.1})


def test_dataset_coerces_and_validates() -> None:
    ds = Dataset([[1, 2], [3, 4]], [0, 1], ["a", "b"], ["x", "y"], "t")
    assert ds.X.dtype == float and ds.feature_names == ("a", "b") and ds.target_names == ("x", "y")
    assert (ds.n_samples, ds.n_features) == (2, 2)
    with pytest.raises(DataError, match="2-D array"):
        Dataset(np.zeros(3), None, ("a",), (), "t")
    with pytest.raises(DataError, match=r"y of shape \(2,\)"):
        Dataset(np.zeros((2, 1)), np.zeros(3), ("a",), (), "t")
    with pytest.raises(DataError, match="expected 2 feature names, received 1"):
        Dataset(np.zeros((2, 2)), None, ("a",), (), "t")


def test_reprs_are_short_and_show_shapes_not_arrays() -> None:
    ds = toy()
    assert repr(ds) == "Dataset('toy', 6 samples x 2 features, 2 classes)"
    assert repr(Dataset(np.zeros((3, 1)), None, ("a",), (), "u")).endswith("unlabelled)")
    assert repr(Split(ds.take([0]), ds.take([1, 2]))) == (
        "Split(train=Dataset('toy', 1 samples x 2 features, 2 classes), "
        "test=Dataset('toy', 2 samples x 2 features, 2 classes))"
    )
    assert repr(toy_model()) == (
        "Model('logistic_regression', 2 features, 2 classes, 2 steps, loss=0.5, accuracy=1)"
    )


def test_take_and_with_features() -> None:
    ds = toy()
    sub = ds.take([4, 1])
    assert sub.X.tolist() == [[8.0, 9.0], [2.0, 3.0]] and sub.y.tolist() == [0, 1]
    new = ds.with_features(ds.X[:, :1], ["only"])
    assert new.feature_names == ("only",) and new.y is ds.y and new.name == "toy"


@pytest.mark.parametrize("value", [toy(), Split(toy().take([0, 1]), toy().take([2])), toy_model()])
def test_values_round_trip_through_pickle(value: object) -> None:
    back = pickle.loads(pickle.dumps(value))
    assert type(back) is type(value) and repr(back) == repr(value)
    assert hash_value(back) == hash_value(value)


def test_round_trip_keeps_arrays_and_history() -> None:
    m = pickle.loads(pickle.dumps(toy_model()))
    assert np.array_equal(m.params["W"], np.ones((2, 2))) and m.history["loss"] == [0.7, 0.5]
    ds = pickle.loads(pickle.dumps(toy()))
    assert np.array_equal(ds.X, toy().X) and np.array_equal(ds.y, toy().y)


def test_hash_depends_on_content() -> None:
    assert hash_value(toy()) == hash_value(toy())
    assert hash_value(toy()) != hash_value(toy(7))


def test_parts_and_checks() -> None:
    ds = toy()
    split = Split(ds.take([0, 1, 2]), ds.take([3, 4]))
    assert train_part(split, "f") is split.train and eval_part(split, "f") is split.test
    assert train_part(ds, "f") is ds and eval_part(ds, "f") is ds
    with pytest.raises(DataError, match="f: expected a Dataset or a Split, received list"):
        train_part([1, 2], "f")
    with pytest.raises(DataError, match="labelled dataset"):
        labels_of(Dataset(np.zeros((2, 1)), None, ("a",), (), "u"), "f")
    assert check_model(toy_model(), ds, "f").kind == "logistic_regression"
    with pytest.raises(DataError, match="trained on 2 features"):
        check_model(toy_model(), ds.with_features(ds.X[:, :1], ["a"]), "f")
    with pytest.raises(DataError, match="expected a Model"):
        check_model("model", ds, "f")
    with pytest.raises(DataError, match="expected train to be a Dataset"):
        Split("x", ds)  # type: ignore[arg-type]
