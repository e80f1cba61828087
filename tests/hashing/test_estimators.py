"""scikit-learn estimators, pipelines and splitters keyed by class, parameters and learned state."""

from __future__ import annotations

import numpy as np
import pytest
from keyed import TALLY, assert_kept_apart, through_cache
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import pylearn_lab as pl
from pylearn_lab.hashing import hash_value

rng = np.random.default_rng(0)
X = rng.random((60, 4))
y = (X[:, 0] + X[:, 1] > 1).astype(int)


@pl.component
def score(model, seed: int = 0):
    TALLY.tick()
    from sklearn.base import clone

    return float(np.round(clone(model).fit(X, y).score(X, y), 12))


@pl.component
def fit(model):
    TALLY.tick()
    from sklearn.base import clone

    return clone(model).fit(X, y)


@pl.component
def predict(model):
    TALLY.tick()
    return model.predict(X)


def test_params_count_and_equal_estimators_share_a_key(tmp_path):
    c = pl.Cache(tmp_path)
    assert_kept_apart(c, score, lambda m: score.fn(m), LogisticRegression(C=1.0), LogisticRegression(C=0.01))
    assert hash_value(LogisticRegression(C=1.0)) == hash_value(LogisticRegression(C=1.0))
    assert hash_value(Ridge()) != hash_value(LogisticRegression())


def test_fitted_and_unfitted_never_share_a_key():
    unfitted = LogisticRegression()
    fitted = LogisticRegression().fit(X, y)
    other = LogisticRegression().fit(X, 1 - y)
    assert len({hash_value(unfitted), hash_value(fitted), hash_value(other)}) == 3
    again = LogisticRegression().fit(X, y)
    assert hash_value(again) == hash_value(fitted)


def test_fitted_estimator_returned_by_run_passes_back_in(tmp_path):
    c = pl.Cache(tmp_path)
    model, n = through_cache(c, fit(RandomForestClassifier(n_estimators=5, random_state=0)))
    assert n == 1
    preds, n = through_cache(c, predict(model))  # a value run() returned, as an argument
    assert n == 1 and np.array_equal(preds, model.predict(X))
    _, n = through_cache(c, predict(model))
    assert n == 0
    other, _ = through_cache(c, fit(RandomForestClassifier(n_estimators=5, random_state=1)))
    preds2, n = through_cache(c, predict(other))
    assert n == 1 and np.array_equal(preds2, other.predict(X))


def test_pipelines_key_their_steps_deeply():
    a = make_pipeline(StandardScaler(), LogisticRegression(C=1.0))
    b = make_pipeline(StandardScaler(), LogisticRegression(C=2.0))
    c = make_pipeline(StandardScaler(with_mean=False), LogisticRegression(C=1.0))
    assert len({hash_value(a), hash_value(b), hash_value(c)}) == 3
    assert hash_value(a) == hash_value(make_pipeline(StandardScaler(), LogisticRegression(C=1.0)))
    fitted = make_pipeline(StandardScaler(), LogisticRegression(C=1.0)).fit(X, y)
    assert hash_value(fitted) != hash_value(a)
    grid = GridSearchCV(a, {"logisticregression__C": [0.1, 1.0]}, cv=3)
    assert hash_value(grid) != hash_value(GridSearchCV(b, {"logisticregression__C": [0.1, 1.0]}, cv=3))
    assert hash_value(grid.fit(X, y)) != hash_value(GridSearchCV(a, {"logisticregression__C": [0.1, 1.0]}, cv=3))


def test_splitters_by_class_and_parameters():
    keys = {hash_value(s) for s in (KFold(5), KFold(3), StratifiedKFold(5),
                                    KFold(5, shuffle=True, random_state=0),
                                    KFold(5, shuffle=True, random_state=1))}
    assert len(keys) == 5
    assert hash_value(KFold(5, shuffle=True, random_state=0)) == hash_value(
        KFold(5, shuffle=True, random_state=0))


class Thresholder(ClassifierMixin, BaseEstimator):
    """A user estimator: its code counts too."""

    def __init__(self, cut: float = 0.5):
        self.cut = cut

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return (X[:, 0] > self.cut).astype(int)


def test_user_estimators_by_code_params_and_state(tmp_path):
    assert hash_value(Thresholder(0.5)) != hash_value(Thresholder(0.6))
    assert hash_value(Thresholder(0.5)) != hash_value(Thresholder(0.5).fit(X, y))

    class Thresholder2(Thresholder):
        def predict(self, X):
            return (X[:, 1] > self.cut).astype(int)

    Thresholder2.__qualname__ = Thresholder.__qualname__  # same name, other code
    assert hash_value(Thresholder2(0.5)) != hash_value(Thresholder(0.5))
    c = pl.Cache(tmp_path)
    assert_kept_apart(c, predict, lambda m: m.predict(X), Thresholder(0.5).fit(X, y),
                      Thresholder2(0.5).fit(X, y))


@pytest.mark.parametrize("est", [LogisticRegression(random_state=np.random.RandomState(0)),
                                 KFold(3, shuffle=True, random_state=np.random.RandomState(0))])
def test_random_state_objects_inside_estimators(est):
    h = hash_value(est)
    assert h == hash_value(est)
