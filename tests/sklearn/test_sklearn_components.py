"""pylearn_lab.sklearn: estimators as arguments and values, folds cached one by one.

Counting is done twice: the run loop's own "done" events per component label
(a Recorder), and a classifier that appends to a log file each time it is
fitted (so fits are counted in any process).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate as sk_cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import pylearn_lab as pl
from pylearn_lab import sklearn as pls
from pylearn_lab.errors import DataError

FITS = os.environ.get("PYLEARN_TEST_FITS", "")


class CountingTree(ClassifierMixin, BaseEstimator):
    """A decision tree that logs every fit to a file (counts fits across processes)."""

    def __init__(self, max_depth: int = 2, log: str = "") -> None:
        self.max_depth = max_depth
        self.log = log

    def fit(self, X, y):
        if self.log:
            with open(self.log, "a") as f:
                f.write(".")
        self.tree_ = DecisionTreeClassifier(max_depth=self.max_depth, random_state=0).fit(X, y)
        self.classes_ = self.tree_.classes_
        return self

    def predict(self, X):
        return self.tree_.predict(X)


def done(rec: pl.Recorder, label: str) -> int:
    return sum(1 for e in rec.events if e.kind == "done" and e.label == label)


@pytest.fixture
def data():
    return pls.load_dataset("breast_cancer")


@pytest.fixture
def cache(tmp_path):
    return pl.Cache(tmp_path / "cache")


def test_fit_predict_score_keep_the_dataframe_and_never_mutate_the_estimator(data, cache):
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model = pls.fit(est, data)
    pred, scored, frame = pl.run([pls.predict(model, data), pls.score(model, data), data],
                                 cache=cache, progress=False)
    assert list(pred.index) == list(frame.index) and pred.name == "target"
    assert 0.95 < scored["score"] <= 1.0
    assert not hasattr(est[-1], "coef_")  # the argument was cloned, not fitted
    fitted = pl.run(model, cache=cache, progress=False)
    assert list(fitted.feature_names_in_) == [c for c in frame.columns if c != "target"]
    proba = pl.run(pls.predict(model, data, method="predict_proba"), cache=cache, progress=False)
    assert list(proba.columns) == [0, 1] and list(proba.index) == list(frame.index)


def test_cross_validation_matches_sklearn(data, cache):
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    ours = pl.run(pls.cross_validate(est, data, cv=5), cache=cache, progress=False)
    frame = pl.run(data, cache=cache, progress=False)
    theirs = sk_cross_validate(est, frame.drop(columns="target"), frame["target"], cv=5)
    assert ours["mean_test_score"] == pytest.approx(float(np.mean(theirs["test_score"])), abs=1e-12)
    assert ours["n_folds"] == 5


def test_one_more_grid_point_or_fold_computes_only_what_is_new(data, cache, tmp_path):
    log = str(tmp_path / "fits.log")
    base = pls.cross_validate(CountingTree(log=log), data, cv=5)
    rec = pl.Recorder()
    pl.sweep(base, grid={"estimator__max_depth": [1, 2]}, cache=cache, callbacks=[rec])
    assert done(rec, "cv_fold") == 10 and done(rec, "cv_summary") == 2
    assert len(Path(log).read_text()) == 10
    rec = pl.Recorder()
    sw = pl.sweep(base, grid={"estimator__max_depth": [1, 2, 3]}, cache=cache, callbacks=[rec])
    assert done(rec, "cv_fold") == 5 and done(rec, "cv_summary") == 1  # the new point only
    assert len(Path(log).read_text()) == 15
    assert [p["estimator__max_depth"] for p in sw.points] == [1, 2, 3]
    # folds asked for in two steps: the second computes the two new folds (and the summary)
    from sklearn.model_selection import KFold

    splitter = KFold(5, shuffle=True, random_state=0)
    rec = pl.Recorder()
    pl.run(pls.cross_validate(CountingTree(log=log), data, cv=splitter, folds=[0, 1, 2]),
           cache=cache, callbacks=[rec], progress=False)
    assert done(rec, "cv_fold") == 3
    rec = pl.Recorder()
    out = pl.run(pls.cross_validate(CountingTree(log=log), data, cv=splitter), cache=cache,
                 callbacks=[rec], progress=False)
    assert done(rec, "cv_fold") == 2 and out["n_folds"] == 5


def test_nested_parameters_use_sklearns_names_and_copy_the_estimator(data, cache):
    est = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=2000))])
    base = pls.cross_validate(est, data, cv=3)
    sw = pl.sweep(base, grid={"estimator__clf__C": [0.01, 1.0]}, cache=cache)
    assert est.get_params()["clf__C"] == 1.0  # the user's estimator is untouched
    used = [pls.estimator_of(e).get_params()["clf__C"] for e in sw.exprs]
    assert used == [0.01, 1.0]
    t = sw.results()
    assert list(t["cv_fold.estimator"]) == ["Pipeline", "Pipeline"]
    assert list(t["cv_fold.estimator__clf__C"]) == [0.01, 1.0]
    assert list(t["cv_fold.estimator__clf"]) == ["LogisticRegression"] * 2
    with pytest.raises(KeyError, match="estimator__nope"):
        pl.sweep(base, grid={"estimator__nope": [1]}, cache=cache)


def test_model_families_in_one_grid(data, cache):
    grid = pls.param_grid([
        {"estimator": [make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))],
         "estimator__logisticregression__C": [0.1, 1.0]},
        {"estimator": [DecisionTreeClassifier(random_state=0)], "estimator__max_depth": [2]},
    ])
    base = pls.cross_validate(DecisionTreeClassifier(), data, cv=3)
    sw = pl.sweep(base, grid=grid, cache=cache)
    t = sw.results()
    assert list(t["cv_fold.estimator"]) == ["Pipeline", "Pipeline", "DecisionTreeClassifier"]
    assert t["cv_fold.estimator__max_depth"].iloc[2] == 2  # an int stays an int
    assert t["cv_fold.estimator__logisticregression__C"].iloc[2] is None  # not NaN
    best = sw.best("mean_test_score")
    refit = pl.run(pls.refit(best.expr), cache=cache, progress=False)
    assert type(refit).__name__ == type(pls.estimator_of(best.expr)).__name__


def test_estimators_made_by_components_name_their_maker(data, cache):
    @pl.component
    def logreg(C: float = 1.0) -> Pipeline:
        return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))

    sw = pl.sweep(pls.cross_validate(logreg(), data, cv=3), grid={"C": [0.1, 1.0]}, cache=cache)
    t = sw.results()
    assert list(t["cv_fold.estimator"]) == ["logreg", "logreg"]
    assert list(t["logreg.C"]) == [0.1, 1.0]
    assert list(t["folds"]) == ["cv_fold", "cv_fold"]


def test_column_transformers_select_dataframe_columns(data, cache):
    frame = pl.run(data, cache=cache, progress=False)
    cols = [c for c in frame.columns if c.startswith("mean ")]
    est = make_pipeline(ColumnTransformer([("num", StandardScaler(), cols)]),
                        LogisticRegression(max_iter=2000))
    out = pl.run(pls.cross_validate(est, data, cv=3), cache=cache, progress=False)
    assert out["mean_test_score"] > 0.85


def test_folds_run_on_worker_processes_with_the_same_scores(data, tmp_path):
    from pylearn_lab.backends import ProcessBackend

    log = str(tmp_path / "fits.log")
    e = pls.cross_validate(CountingTree(log=log), data, cv=4)
    serial = pl.run(e, cache=False, progress=False)
    with ProcessBackend(2) as b:
        remote = pl.run(e, backend=b, cache=pl.Cache(tmp_path / "c"), progress=False)
    assert remote["mean_test_score"] == serial["mean_test_score"]
    assert len(Path(log).read_text()) == 8  # 4 fits here, 4 in the workers


def test_bad_inputs_get_clear_errors(data, cache):
    with pytest.raises(DataError, match="cv= expected at least 2"):
        pls.cross_validate(LogisticRegression(), data, cv=1)
    with pytest.raises(DataError, match="folds= expected"):
        pls.cross_validate(LogisticRegression(), data, cv=3, folds=[0, 3])
    with pytest.raises(pl.errors.NodeError, match="target column 'label'"):
        pl.run(pls.fit(LogisticRegression(), data, target="label"), cache=cache, progress=False)
    with pytest.raises(pl.errors.NodeError, match="one of"):
        pl.run(pls.load_dataset("nope"), cache=cache, progress=False)


def test_without_scikit_learn_the_error_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "try:\n    import pylearn_lab.sklearn\n"
            "except ImportError as e:\n    print(type(e).__name__, e)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert out.startswith("MissingDependencyError") and "pylearn_lab[sklearn]" in out
