"""Inputs a node cannot change for anyone else.

An in-process run hands a value computed by one node to every node that reads
it. A node that changes its input in place (``x += 1``, ``rows.append(...)``,
``df["c"] = 0``) would then change what its siblings compute -- and their
results would be stored under keys that name the unchanged input: a wrong
hit in every later session. Nodes on other processes never share, since each
loads or unpickles its own copy; this module gives in-process nodes (and the
nodes of one batch on a worker) the same isolation.

:func:`guarded` returns a value the node may use as it likes without touching
the original:

* immutable atoms (numbers, strings, bytes, None, numpy scalars, functions and
  classes) are handed as they are;
* plain ``numpy.ndarray`` s become **read-only views** (no copy). Arrays loaded
  from the cache are memory-mapped read-only already, so a node that writes to
  its input now fails the same way whether the input was just computed or
  cached, instead of working on a first run only;
* pandas objects become copy-on-write copies (pandas 3; no data copied until
  someone writes), deep copies when copy-on-write is off;
* plain tuples, lists, dicts and sets are rebuilt around guarded items;
* anything else is ``copy.deepcopy``-ed. That is the cost of this guarantee:
  a large fitted model read by several nodes is copied once per reader but
  the last (see :func:`~pylearn_lab.vm.submit.Submitter.task`). An object that
  cannot be deep-copied is handed as it is (and named in docs/reliability.md
  as the one way left to share one).

Examples
--------
>>> import numpy as np
>>> a = np.arange(3)
>>> g = guarded(a)
>>> g.flags.writeable, a.flags.writeable, np.shares_memory(a, g)
(False, True, True)
>>> rows = [1, [2]]
>>> h = guarded(rows)
>>> h.append(3); h[1].append(4)
>>> rows
[1, [2]]
"""

from __future__ import annotations

import copy
import sys
import types
from typing import Any

import numpy as np

__all__ = ["guarded", "READ_ONLY_HINT"]

# what a node that writes into a guarded array is told (the receipt adds it to the error)
READ_ONLY_HINT = ("inputs reach a node read-only, so that no node changes what another node "
                  "sees or what the cache holds; copy before writing (e.g. x = x.copy())")

_ATOMS: frozenset[type] = frozenset({
    int, float, complex, bool, str, bytes, type(None), range, slice, type(Ellipsis),
    types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type,
})
_DEPTH = 64  # nested plain containers rebuilt this deep; deeper ones are deep-copied


def guarded(value: Any, _depth: int = 0) -> Any:
    """A version of ``value`` that a node can change without changing ``value``.

    Parameters
    ----------
    value : object
        A node's output, about to become another node's input.

    Returns
    -------
    object
        ``value`` itself when it cannot be changed, a read-only view, a
        copy-on-write copy, or a copy (see the module docstring).
    """
    t = type(value)
    if t in _ATOMS or isinstance(value, np.generic):
        return value
    if t is np.ndarray:
        if value.dtype.hasobject:  # the elements themselves are mutable Python objects
            return _deep(value)
        if not value.flags.writeable:
            return value
        view = value.view()
        view.flags.writeable = False
        return view
    if _depth < _DEPTH:
        if t is tuple:
            items = tuple(guarded(v, _depth + 1) for v in value)
            return value if all(a is b for a, b in zip(items, value)) else items
        if t is list:
            return [guarded(v, _depth + 1) for v in value]
        if t is dict:
            return {k: guarded(v, _depth + 1) for k, v in value.items()}
        if t is set or t is frozenset:
            return t(value)  # elements of a set are hashable: immutable in practice
    pandas = _pandas_copy(value)
    if pandas is not None:
        return pandas
    return _deep(value)


def _pandas_copy(value: Any) -> Any:
    pd = sys.modules.get("pandas")  # never imported here: a value can only be one if loaded
    if pd is None or not isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
        return None
    if isinstance(value, pd.Index):
        return value  # immutable
    return value.copy(deep=not _copy_on_write(pd))


def _copy_on_write(pd: Any) -> bool:
    """True when a shallow pandas copy is a real copy: always from pandas 3 on (asking
    the option there warns that it is deprecated), by option before."""
    if int(pd.__version__.split(".", 1)[0]) >= 3:
        return True
    return pd.options.mode.copy_on_write is True


def _deep(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:
        # locks, sockets, live handles: nothing can copy it; the node shares it (documented)
        return value
