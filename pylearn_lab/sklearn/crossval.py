"""``cross_validate``: k-fold cross-validation whose folds are cached one by one.

``cross_validate(estimator, data, cv=5)`` builds ``cv_summary([cv_fold(...,
fold=0), ..., cv_fold(..., fold=4)])``: each fold is its own node
with its own key, so adding a grid point computes that point's folds only, and
going from 5 to 6 folds of a ``KFold`` changes every split (sklearn's splits
depend on ``k``) while re-running the same ``cv`` computes nothing. Splits are
sklearn's: an integer ``cv`` means ``StratifiedKFold`` for classifiers and
``KFold`` otherwise, unshuffled, exactly as ``sklearn.model_selection.cross_validate``.

The summary carries ``GridSearchCV``'s names: ``mean_test_score``,
``std_test_score``, ``mean_fit_time``, ``mean_score_time``; a fold carries
``test_score``, ``fit_time``, ``score_time`` (and ``train_score`` when asked).

Examples
--------
>>> import pandas as pd
>>> from sklearn.tree import DecisionTreeClassifier
>>> df = pd.DataFrame({"a": list(range(12)), "target": [0] * 6 + [1] * 6})
>>> e = cross_validate(DecisionTreeClassifier(random_state=0), df, cv=3)
>>> e.label, [f.label for f in e.inputs][:2], len(e.inputs)
('cv_summary', ['cv_fold', 'cv_fold'], 3)
>>> round(e.compute(cache=False)["mean_test_score"], 3)
0.833
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from ..errors import DataError
from ..graph import Expr, component
from .data import split_xy, take
from .estimators import fit, scorer_value

__all__ = ["cross_validate", "cv_fold", "cv_summary", "estimator_of", "refit", "n_splits"]


def n_splits(cv: Any) -> int:
    """How many folds ``cv`` (an int or a splitter with ``get_n_splits``) makes."""
    if isinstance(cv, bool) or not (isinstance(cv, int) or hasattr(cv, "get_n_splits")):
        raise DataError(f"cv= expected a number of folds (int >= 2) or a scikit-learn splitter, "
                        f"received {type(cv).__name__} {cv!r:.40}.")
    if isinstance(cv, int):
        if cv < 2:
            raise DataError(f"cv= expected at least 2 folds, received {cv}.")
        return cv
    return int(cv.get_n_splits())


@component(category="sklearn")
def cv_fold(estimator: Any, data: Any, cv: Any = 5, fold: int = 0, target: str = "target",
            scoring: str | None = None, train_score: bool = False) -> dict:
    """Fit a clone of ``estimator`` on the training part of fold ``fold`` of ``cv``; score it."""
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import check_cv

    X, y = split_xy(data, target)
    splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    n = splitter.get_n_splits(X, y)
    if not 0 <= fold < n:
        raise DataError(f"fold= expected 0..{n - 1} for cv={cv!r}, received {fold}.")
    for i, (train, test) in enumerate(splitter.split(X, y)):
        if i == fold:
            break
    model = clone(estimator)
    t0 = time.perf_counter()
    model.fit(take(X, train), take(y, train))
    t1 = time.perf_counter()
    out = {"test_score": scorer_value(model, take(X, test), take(y, test), scoring)}
    out.update(fit_time=t1 - t0, score_time=time.perf_counter() - t1)
    if train_score:
        out["train_score"] = scorer_value(model, take(X, train), take(y, train), scoring)
    return out


@component(category="sklearn")
def cv_summary(folds: list) -> dict:
    """Mean and spread of the folds' scores, with ``GridSearchCV.cv_results_`` names."""
    out: dict[str, Any] = {}
    names = ["test_score", "train_score", "fit_time", "score_time"]
    for name in names:
        vals = [float(f[name]) for f in folds if name in f]
        if vals:
            out[f"mean_{name}"] = statistics.fmean(vals)
            if name.endswith("score"):
                out[f"std_{name}"] = statistics.pstdev(vals)
    out["n_folds"] = len(folds)
    return out


def cross_validate(estimator: Any, data: Any, cv: Any = 5, *, target: str = "target",
                   scoring: str | None = None, train_score: bool = False,
                   folds: Sequence[int] | None = None) -> Expr:
    """The cross-validation graph of ``estimator`` on ``data`` (see the module doc).

    Parameters
    ----------
    estimator : estimator or Expr
        Any scikit-learn estimator (Pipelines and ColumnTransformers included), or
        an Expr whose value is one.
    data : DataFrame, (X, y) or Expr
        The labelled data (a DataFrame with the ``target`` column, or ``(X, y)``).
    cv : int or splitter
        Folds: ``StratifiedKFold(cv)`` for classifiers, ``KFold(cv)`` otherwise, or a
        scikit-learn splitter object.
    target, scoring, train_score :
        The label column, a scikit-learn scorer name (default: the estimator's
        ``score``), and whether to score the training part too.
    folds : sequence of int, optional
        Which folds of ``cv`` to compute (default: all). Asking for more later
        computes only the new ones.

    Returns
    -------
    Expr
        A ``cv_summary`` node over one ``cv_fold`` node per fold.
    """
    n = n_splits(cv)
    chosen = list(range(n)) if folds is None else [int(i) for i in folds]
    bad = [i for i in chosen if not 0 <= i < n]
    if bad or not chosen or len(set(chosen)) != len(chosen):
        raise DataError(f"folds= expected distinct fold numbers in 0..{n - 1} for cv={cv!r}, "
                        f"received {list(folds or [])!r}.")
    nodes = [cv_fold(estimator, data, cv=cv, fold=i, target=target, scoring=scoring,
                     train_score=train_score) for i in chosen]
    return cv_summary(nodes)


def _argument(expr: Expr, name: str) -> Any:
    from ..jobs.rebind import bound_arguments

    for e in expr.walk():
        if e.label in ("cv_fold", "fit") and name in bound_arguments(e):
            return bound_arguments(e)[name]
    raise DataError(f"expected an expression built by cross_validate() or fit(), received "
                    f"{expr!r:.80}: it has no {name!r} argument.")


def estimator_of(expr: Expr) -> Any:
    """The estimator (a value or an Expr) that a ``cross_validate``/``fit`` expression uses."""
    return _argument(expr, "estimator")


def refit(expr: Expr, data: Any = None, target: str | None = None) -> Expr:
    """``fit`` the estimator of a cross-validation on all of its data (or on ``data``).

    Typical use: ``refit(sweep.best("mean_test_score").expr)``.
    """
    folds = [e for e in expr.walk() if e.label == "cv_fold"]
    if data is None:
        data = _argument(folds[0] if folds else expr, "data")
    if target is None:
        target = _argument(folds[0], "target") if folds else "target"
    return fit(estimator_of(expr), data, target=target)
