"""Re-check a node's key just before it runs: never store a result under a stale key.

An expression's key is computed when it is built. Between building and
running, a researcher may mutate a literal argument in place (``X[0] = 99``
on the array passed in, a generator advanced by an earlier node, an
estimator fitted in place) or redefine a helper the component calls. The
result would then be computed from other inputs than the key says, and
storing it under that key would serve it later for the *original* inputs.

:func:`check_fresh` rebuilds the key from the live arguments and code (at
memory bandwidth for arrays, a few microseconds for small calls, only for
nodes that are about to compute and be stored) and refuses with
:class:`~pylearn_lab.errors.StaleKeyError` when it moved: rebuild the
expression (call the component again) to compute with the new values.

Examples
--------
>>> import numpy as np
>>> from pylearn_lab.graph import component
>>> @component
... def total(x):
...     return float(x.sum())
>>> a = np.ones(3)
>>> e = total(a)
>>> check_fresh(e)  # nothing changed
>>> a[0] = 5.0
>>> check_fresh(e)
Traceback (most recent call last):
    ...
pylearn_lab.errors.StaleKeyError: total(): its arguments or code changed after the expression was built ...
"""

from __future__ import annotations

from typing import Any

from ..errors import StaleKeyError
from .expr import build_expr

__all__ = ["check_fresh", "fresh_key"]


def fresh_key(expr: Any) -> str | None:
    """The key ``expr`` would get if built now, or None when it cannot be rebuilt."""
    comp = getattr(expr, "component", None)
    if comp is None:
        return None
    # the very function that keyed it at build time, on the arguments as they are now
    # (an import statement here cost a fifth of the check: it runs for every node)
    return build_expr(comp, expr._args, expr._kwargs).key


def check_fresh(expr: Any) -> None:
    """Raise :class:`StaleKeyError` when ``expr``'s key no longer describes its inputs or code.

    Parameters
    ----------
    expr : Expr
        A node about to run and be stored.

    Raises
    ------
    StaleKeyError
        A literal argument was mutated in place, or the component or a helper it
        calls was redefined, since ``expr`` was built.
    """
    now = fresh_key(expr)
    if now is None or now == expr.key:
        return
    raise StaleKeyError(
        f"{expr.label}(): its arguments or code changed after the expression was built (a "
        f"literal argument mutated in place, or {expr.label} or a helper it calls redefined), "
        f"so its key {expr.key[:12]}… no longer describes what would run (now {now[:12]}…). "
        "Expected the values and code the expression was built with; received changed ones. "
        "Nothing was computed or stored. Fix: build the expression again (call the component "
        "again) after changing its inputs, or pass a copy (x.copy()) of data you change later. "
        "Data the code reads (globals, defaults, closures) counts too: a log, counter or memo "
        "dict it only writes to (calls.append(...)) belongs out of the key -- "
        "pl.untracked(calls), or functools.cache for a memo."
    )
