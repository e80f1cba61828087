"""How data reaches an estimator: ``(X, y)`` from a DataFrame, a pair or a Bunch.

One rule for every component of :mod:`pylearn_lab.sklearn`: ``data`` is a pandas
DataFrame holding the target in column ``target`` (the features are the other
columns, names kept), or an ``(X, y)`` pair, or a mapping with ``"X"``/``"y"``
(or sklearn's ``"data"``/``"target"``). Rows are taken with ``iloc`` for pandas
objects so the index and the column names travel with them.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"a": [1, 2, 3], "target": [0, 1, 0]})
>>> X, y = split_xy(df)
>>> list(X.columns), list(y)
(['a'], [0, 1, 0])
>>> take(X, [2, 0]).index.tolist()
[2, 0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import DataError
from ..graph import component

__all__ = ["split_xy", "take", "load_dataset"]


def _is_pandas(obj: Any) -> bool:
    return hasattr(obj, "iloc") and hasattr(obj, "index")


def split_xy(data: Any, target: str | None = "target",
             require_target: bool = True) -> tuple[Any, Any]:
    """``(X, y)`` of ``data`` (see the module rule); ``y`` is None when there is none.

    Raises
    ------
    DataError
        ``data`` is none of the accepted forms, or the target column is missing
        where it is required.
    """
    if _is_pandas(data) and hasattr(data, "columns"):
        if target is not None and target in data.columns:
            return data.drop(columns=[target]), data[target]
        if require_target and target is not None:
            raise DataError(
                f"expected a DataFrame with a target column {target!r}, received columns "
                f"{[str(c) for c in data.columns][:12]}. Pass target='<column>' naming the "
                "label column, or data as an (X, y) pair.")
        return data, None
    if isinstance(data, Mapping):
        for xk, yk in (("X", "y"), ("data", "target")):
            if xk in data:
                return data[xk], data.get(yk)
    if isinstance(data, Sequence) and not isinstance(data, str) and len(data) == 2:
        return data[0], data[1]
    if isinstance(data, np.ndarray) or _is_pandas(data):
        if require_target and target is not None:
            raise DataError(
                f"expected data with labels (a DataFrame with column {target!r}, an (X, y) pair "
                f"or a mapping with 'X' and 'y'), received a bare {type(data).__name__}. "
                "Pass (X, y), or target=None for an unsupervised estimator.")
        return data, None
    raise DataError(
        f"expected a DataFrame, an (X, y) pair or a mapping with 'X' and 'y', received "
        f"{type(data).__name__} {data!r:.60}.")


def take(obj: Any, rows: Any) -> Any:
    """Rows ``rows`` (positions) of an array, a DataFrame or a Series (index kept)."""
    if obj is None:
        return None
    return obj.iloc[rows] if _is_pandas(obj) else np.asarray(obj)[rows]


@component(category="sklearn")
def load_dataset(name: str = "breast_cancer") -> Any:
    """One of scikit-learn's bundled datasets as a DataFrame with a ``target`` column.

    ``name`` is ``"breast_cancer"``, ``"iris"``, ``"wine"``, ``"digits"`` or ``"diabetes"``
    (shipped with scikit-learn: nothing is downloaded).
    """
    from sklearn import datasets

    loaders = {"breast_cancer": datasets.load_breast_cancer, "iris": datasets.load_iris,
               "wine": datasets.load_wine, "digits": datasets.load_digits,
               "diabetes": datasets.load_diabetes}
    if name not in loaders:
        raise DataError(f"load_dataset() expected one of {sorted(loaders)}, received {name!r}.")
    return loaders[name](as_frame=True).frame
