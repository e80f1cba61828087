"""scikit-learn and pandas, first-class: estimators as arguments, folds as cached nodes.

Estimators, Pipelines and ColumnTransformers are ordinary arguments and return
values of components (their key is their class, their ``get_params()`` and,
once fitted, their learned state). DataFrames go in and come out with their
columns. The ready components:

- :func:`fit` ``(estimator, data)`` -> a fitted clone (the argument is never mutated);
- :func:`predict` ``(model, data)`` -> a Series/DataFrame on the data's index;
- :func:`score` ``(model, data)`` -> ``{"score": ...}``;
- :func:`cross_validate` ``(estimator, data, cv=5)`` -> one cached node per fold
  (:func:`cv_fold`) and their summary (:func:`cv_summary`): one more grid point
  or fold computes only what is new;
- :func:`param_grid` expands sklearn-style grids (``{"estimator__C": [...]}``, a list
  of such dicts) into points for :func:`pylearn_lab.jobs.sweep`.

Needs the ``sklearn`` extra (``pip install 'pylearn_lab[sklearn]'``): without
scikit-learn, importing this package raises
:class:`~pylearn_lab.errors.MissingDependencyError` naming it.

Examples
--------
>>> import tempfile
>>> import pylearn_lab as pl
>>> from pylearn_lab import sklearn as pls
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> data = pls.load_dataset("breast_cancer")
>>> cv = pls.cross_validate(make_pipeline(StandardScaler(), LogisticRegression()), data, cv=3)
>>> out = pl.run(cv, cache=pl.Cache(tempfile.mkdtemp()), progress=False)
>>> sorted(out)[:2], out["mean_test_score"] > 0.9
(['mean_fit_time', 'mean_score_time'], True)
"""

from __future__ import annotations

from ..errors import MissingDependencyError

try:
    import sklearn as _sklearn  # noqa: F401
except ImportError as _exc:  # say which extra brings it, at the import that needs it
    raise MissingDependencyError("pylearn_lab.sklearn", "scikit-learn", "sklearn") from _exc

from .crossval import cross_validate, cv_fold, cv_summary, estimator_of, refit
from .data import load_dataset, split_xy
from .estimators import fit, predict, score
from .grid import param_grid

__all__ = ["fit", "predict", "score", "cross_validate", "cv_fold", "cv_summary", "refit",
           "estimator_of", "param_grid", "split_xy", "load_dataset"]
