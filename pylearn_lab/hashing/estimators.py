"""scikit-learn estimators, pipelines and splitters keyed by what they are and what they learned.

An estimator's key is its class (library classes by scikit-learn's version
and qualified name, user subclasses by their code), its constructor
parameters (``get_params(deep=False)``: nested estimators -- a pipeline's
steps, a search's ``estimator`` -- are hashed the same way, recursively, which
covers what ``get_params(deep=True)`` flattens), and, once fitted, its
learned state: every public attribute ending in ``_`` (``coef_``,
``classes_``, ``tree_``, ``estimators_``...), and every other attribute that is
not a parameter (private state such as ``set_output``'s configuration). A fitted and an unfitted
estimator therefore never share a key, two fits on other data differ, and an
estimator returned by ``run()`` can be passed back in as an argument.

Splitters (``KFold``, ``StratifiedKFold``...) are plain objects: their class
and attributes (``n_splits``, ``shuffle``, ``random_state``) count.

scikit-learn is never imported here: the handler is used only once
``sklearn`` is already imported (an estimator cannot exist otherwise).

Examples
--------
>>> from sklearn.linear_model import Ridge
>>> from pylearn_lab.hashing import hash_value
>>> hash_value(Ridge(alpha=1.0)) == hash_value(Ridge(alpha=1.0))
True
>>> hash_value(Ridge(alpha=1.0)) == hash_value(Ridge(alpha=2.0))
False
>>> import numpy as np
>>> fitted = Ridge().fit(np.eye(3), [1.0, 2.0, 3.0])
>>> hash_value(fitted) == hash_value(Ridge())
False
"""

from __future__ import annotations

from typing import Any

from ..errors import UnhashableError
from .values import _feed_dict, _tag, class_digest, feed_value, register_probe

__all__ = ["feed_estimator", "fitted_state"]


def fitted_state(est: Any) -> dict[str, Any]:
    """The learned attributes of a fitted estimator (public, trailing underscore)."""
    state = getattr(est, "__dict__", {})
    return {k: v for k, v in state.items() if k.endswith("_") and not k.startswith("_")}


def feed_estimator(d: Any, est: Any, path: str) -> None:
    """Feed a scikit-learn estimator: class, parameters, learned state."""
    typ = type(est)
    _tag(d, b"K", f"{typ.__module__}.{typ.__qualname__}")
    d.update(class_digest(typ).encode())
    try:
        params = est.get_params(deep=False)
    except Exception as exc:  # noqa: BLE001 -- a broken get_params is the user's to fix
        raise UnhashableError(path, est, f"its get_params() failed ({exc})") from None
    feed_value(d, params, f"{path}.get_params()")
    learned = fitted_state(est)
    d.update(b"fitted" if learned else b"unfitted")
    feed_value(d, learned, f"{path} (fitted state)")
    # Every other attribute counts too: private state changes what the estimator returns
    # (``set_output(transform="pandas")`` lives in ``_sklearn_output_config``; a fitted
    # model's private copies such as ``_y_train_mean``). Without it a transformer set to
    # output DataFrames was served the ndarray result of one that was not.
    # ``_sklearn_version`` is pickling metadata (left on user subclasses by unpickling).
    private = {k: v for k, v in getattr(est, "__dict__", {}).items()
               if k not in params and k not in learned and k != "_sklearn_version"}
    if private:
        d.update(b"private")
        _feed_dict(d, private, f"{path} (private state)")


register_probe("sklearn.base", ("BaseEstimator",), feed_estimator)
