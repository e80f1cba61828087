"""sklearn-style grids: ``{"estimator": [...], "estimator__C": [...]}`` and lists of them.

:func:`param_grid` expands a grid exactly as ``sklearn.model_selection.ParameterGrid``
(a list of dicts is a union of sub-grids, so each model family gets its own
parameters) into the explicit points that :func:`pylearn_lab.jobs.sweep` runs.
A name ``a__b`` sets parameter ``b`` of the estimator held by argument ``a``
(nested as deep as sklearn allows: ``estimator__svc__C``), on every node of the
graph that uses that estimator -- all folds of a cross-validation at once.

Examples
--------
>>> from sklearn.svm import SVC
>>> from sklearn.linear_model import LogisticRegression
>>> pts = param_grid([{"estimator": [SVC()], "estimator__C": [1, 10]},
...                   {"estimator": [LogisticRegression()]}])
>>> [sorted(p) for p in pts]
[['estimator', 'estimator__C'], ['estimator', 'estimator__C'], ['estimator']]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["param_grid"]


def param_grid(grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]]
               ) -> list[dict[str, Any]]:
    """Explicit points of a sklearn-style grid, in ``ParameterGrid``'s order.

    Within a point, an estimator argument comes before the names that tune it
    (``estimator`` before ``estimator__C``), so the tuning applies to the
    estimator chosen by that point.
    """
    from sklearn.model_selection import ParameterGrid

    subs = [grid] if isinstance(grid, Mapping) else list(grid)
    points = []
    for sub in subs:
        for p in ParameterGrid(dict(sub)):
            points.append({k: p[k] for k in sorted(p, key=lambda k: (k.count("__"), k))})
    return points
