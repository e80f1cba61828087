"""``fit``, ``predict`` and ``score``: scikit-learn estimators as graph steps.

``fit`` returns a fitted *clone*: the estimator passed in is never mutated, so
the Expr that holds it keeps its key, and the fitted model is a new value
(stored, keyed by the call). Predictions keep the DataFrame's index.

Examples
--------
>>> import pandas as pd
>>> from sklearn.tree import DecisionTreeClassifier
>>> df = pd.DataFrame({"a": [0, 1, 2, 3], "target": [0, 0, 1, 1]})
>>> est = DecisionTreeClassifier(random_state=0)
>>> model = fit(est, df)
>>> predict(model, df).compute(cache=False).tolist()
[0, 0, 1, 1]
>>> score(model, df).compute(cache=False)
{'score': 1.0}
>>> hasattr(est, "classes_")  # the argument stays unfitted
False
"""

from __future__ import annotations

from typing import Any

from ..errors import DataError
from ..graph import component
from .data import split_xy

__all__ = ["fit", "predict", "score", "scorer_value"]


@component(category="sklearn")
def fit(estimator: Any, data: Any, target: str | None = "target") -> Any:
    """A fitted clone of ``estimator`` on ``data`` (a DataFrame with ``target``, or ``(X, y)``)."""
    from sklearn.base import clone, is_classifier, is_regressor

    if not hasattr(estimator, "fit"):
        raise DataError(f"fit() expected a scikit-learn estimator (with .fit), received "
                        f"{type(estimator).__name__}.")
    supervised = is_classifier(estimator) or is_regressor(estimator)
    X, y = split_xy(data, target, require_target=supervised and target is not None)
    model = clone(estimator)
    return model.fit(X) if y is None else model.fit(X, y)


@component(category="sklearn")
def predict(model: Any, data: Any, target: str | None = "target",
            method: str = "predict") -> Any:
    """``model.<method>(X)``; on a DataFrame, a Series (or DataFrame) on the same index."""
    X, _ = split_xy(data, target, require_target=False)
    if not hasattr(model, method):
        raise DataError(f"predict() expected a model with .{method}(), received "
                        f"{type(model).__name__}. Pass method='predict' or fit it first.")
    out = getattr(model, method)(X)
    if hasattr(X, "index") and hasattr(out, "ndim"):
        import pandas as pd

        if out.ndim == 1:
            return pd.Series(out, index=X.index, name=target or "prediction")
        classes = getattr(model, "classes_", None)
        cols = list(classes) if classes is not None and len(classes) == out.shape[1] else None
        return pd.DataFrame(out, index=X.index, columns=cols)
    return out


def scorer_value(model: Any, X: Any, y: Any, scoring: str | None) -> float:
    """The score of ``model`` on ``(X, y)``: its own ``.score`` or the named sklearn scorer."""
    from sklearn.metrics import check_scoring

    return float(check_scoring(model, scoring=scoring)(model, X, y))


@component(category="sklearn")
def score(model: Any, data: Any, target: str = "target", scoring: str | None = None) -> dict:
    """``{"score": s}``: ``model.score`` on ``data``, or the sklearn scorer named ``scoring``."""
    X, y = split_xy(data, target)
    return {"score": scorer_value(model, X, y, scoring)}
