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
* plain ``numpy.ndarray`` s become **read-only views** (no copy) that cannot be
  unlocked: numpy lets ``x.setflags(write=True)`` (the first answer a search
  gives for "assignment destination is read-only") succeed on a read-only view
  of a writable array, and ``x.base`` is that writable array. The view handed
  out is built from a holder that exports the memory read-only (its
  ``__array_interface__``), so both fail as on an array loaded from the cache
  (memory-mapped read-only). A node that writes to its input now fails the same
  way whether the input was just computed or cached, instead of working on a
  first run only. (This guards against accidents, not against code set on it:
  a node runs with your rights and can reach any memory through ``ctypes``.);
* a ``memoryview`` becomes a read-only one (no copy);
* pandas objects become copy-on-write copies (pandas 3; no data copied until
  someone writes), deep copies when copy-on-write is off;
* plain tuples, lists, dicts and sets are rebuilt around guarded items (a set's
  elements too: a hashable object can still be changed in place);
* anything else is ``copy.deepcopy``-ed. That is the cost of this guarantee:
  a large fitted model read by several nodes is copied once per reader but
  the last (see :func:`~pylearn_lab.vm.submit.Submitter.task`). An object that
  cannot be deep-copied is handed as it is (and named in docs/reliability.md
  as the one way left to share one) -- except a one-shot iterator (a
  generator): the first reader would consume what the next one reads, so
  every later reader silently computed from an empty one. Guarding one raises
  :class:`SharedIteratorError` (a ``TypeError``), which fails that reader
  with a message saying to return a list.

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
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ..graph.nodes import Call, Ref, new_call
from ..hashing.untracked import is_untracked

__all__ = ["guarded", "guarded_call", "unshare_literals", "READ_ONLY_HINT",
           "SharedIteratorError"]

# what a node that writes into a guarded array is told (the receipt adds it to the error)
READ_ONLY_HINT = ("inputs reach a node read-only, so that no node changes what another node "
                  "sees or what the cache holds; copy before writing (e.g. x = x.copy())")

_ATOMS: frozenset[type] = frozenset({
    int, float, complex, bool, str, bytes, type(None), range, slice, type(Ellipsis),
    types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type,
})


class SharedIteratorError(TypeError):
    """A one-shot iterator (a generator) is read by more than one node, or read by a node
    and also returned: it cannot be copied, and sharing it gives the later readers what
    the first did not consume. The reader fails with this message (as a ``TypeError``)."""


_SHARED: frozenset[type] = _ATOMS | {Ref}  # literals guarded_call hands on as they are
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
        # even a read-only input is locked again: a node may return a read-only view
        # of a writable array (pandas' to_numpy() does), which a reader could unlock
        return _locked(value)
    if t is memoryview:  # cannot be deep-copied; a read-only view of it needs no copy
        return value if value.readonly else value.toreadonly()
    if _depth < _DEPTH:
        if t is tuple:
            items = tuple(guarded(v, _depth + 1) for v in value)
            return value if all(a is b for a, b in zip(items, value)) else items
        if t is list:
            return [guarded(v, _depth + 1) for v in value]
        if t is dict:
            return {k: guarded(v, _depth + 1) for k, v in value.items()}
        if t is set or t is frozenset:
            # hashable is not immutable: a set of plain objects (identity hash) can have
            # its elements changed in place, so they are guarded like a list's items
            return t(guarded(v, _depth + 1) for v in value)
    pandas = _pandas_copy(value)
    if pandas is not None:
        return pandas
    return _deep(value)


def guarded_call(call: Call, skip: Iterable[str] = (),
                 views: dict[int, tuple[np.ndarray, np.ndarray]] | None = None) -> Call:
    """``call`` with its literal arguments guarded, for an in-process node.

    Building an expression copies plain lists, tuples and dicts of the literals
    (to put Refs in them), but an array or an object passed as a literal is the
    user's own, shared by every node built from it. A node writing into it
    changed the user's data and what its siblings computed -- stored under keys
    naming the unchanged value. Nodes on other processes get copies; this gives
    in-process nodes the same. Left as they are: atoms, callables (a callback
    object is meant to be shared), ``pl.untracked`` objects (a log the code
    writes to) and the parameters named in ``skip`` (a component's ``ignore=``:
    passed on, never keyed). Returns ``call`` itself when nothing needed a guard.
    ``views`` (``id -> (array, locked view)``, one per run) lets every node built
    from one literal array share one locked view: it cannot be changed by anyone,
    and locking costs microseconds per node otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from pylearn_lab.graph.nodes import Call
    >>> x = np.zeros(2)
    >>> g = guarded_call(Call(len, (x, 3), {}, "k" * 32, "len"))
    >>> g.args[0].flags.writeable, g.args[1], x.flags.writeable
    (False, 3, True)
    """
    for v in call.args:  # the common case, first: literals that are numbers or strings
        if type(v) not in _SHARED:
            break
    else:
        if all(type(v) in _SHARED for v in call.kwargs.values()):
            return call
    skip = frozenset(skip)
    names = _positional_names(call.func) if skip else ()
    args = tuple(a if i < len(names) and names[i] in skip else _literal(a, views)
                 for i, a in enumerate(call.args))
    kwargs = {k: v if k in skip else _literal(v, views) for k, v in call.kwargs.items()}
    if all(a is b for a, b in zip(args, call.args)) and \
            all(kwargs[k] is v for k, v in call.kwargs.items()):
        return call
    return new_call(call.func, args, kwargs, call.key, call.label, call.cache, call.inputs)


def unshare_literals(calls: list[Call]) -> list[Call]:
    """``calls`` (one shipped batch) with :func:`guarded_call` applied to those that hold
    a literal array or object another call of the batch holds too.

    A batch travels as one pickle, so an array that several of its nodes were built
    from is unpickled once and shared by them: a node writing into it changed what
    the next node of the batch computed (found by the red team on the processes
    backend). Calls that share nothing are returned as they are (no copies).

    Examples
    --------
    >>> import numpy as np
    >>> from pylearn_lab.graph.nodes import Call
    >>> x = np.zeros(2)
    >>> a, b = Call(len, (x,), {}, "a" * 32, "len"), Call(len, (x,), {}, "b" * 32, "len")
    >>> [c.args[0].flags.writeable for c in unshare_literals([a, b])]
    [False, False]
    """
    seen: dict[int, int] = {}
    held = []
    for c in calls:
        ids = {id(v) for v in _leaves((c.args, c.kwargs))}
        held.append(ids)
        for i in ids:
            seen[i] = seen.get(i, 0) + 1
    return [guarded_call(c) if any(seen[i] > 1 for i in ids) else c
            for c, ids in zip(calls, held)]


def _leaves(value: Any, _depth: int = 0) -> Iterator[Any]:
    """The literals inside plain containers that :func:`_literal` would guard."""
    t = type(value)
    if t in _SHARED or isinstance(value, np.generic):
        return
    if _depth < _DEPTH and (t is list or t is tuple or t is dict):
        for v in (value.values() if t is dict else value):
            yield from _leaves(v, _depth + 1)
    elif not (callable(value) or is_untracked(value)):
        yield value


def _positional_names(func: Any) -> tuple[str, ...]:
    import inspect

    try:
        return tuple(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return ()


def _literal(value: Any, views: dict[int, tuple[np.ndarray, np.ndarray]] | None,
             _depth: int = 0) -> Any:
    t = type(value)
    if t in _ATOMS or t is Ref or isinstance(value, np.generic):
        return value
    if t is np.ndarray and views is not None and not value.dtype.hasobject:
        known = views.get(id(value))
        if known is None or known[0] is not value:  # (the array is kept: its id stays its own)
            known = views[id(value)] = (value, guarded(value))
        return known[1]
    if _depth < _DEPTH and (t is list or t is tuple or t is dict):
        # the container is the node's own copy already; only what it holds is shared
        if t is dict:
            items = {k: _literal(v, views, _depth + 1) for k, v in value.items()}
            return value if all(items[k] is v for k, v in value.items()) else items
        seq = [_literal(v, views, _depth + 1) for v in value]
        return value if all(a is b for a, b in zip(seq, value)) else t(seq)
    if callable(value) or is_untracked(value):
        return value
    return guarded(value)


class _ReadOnlyMemory:
    """Exports an array's memory as read-only: numpy refuses to make an array whose
    base is this object writeable (there is no writable buffer to find), unlike a
    read-only view of a writable array. Keeps the array alive."""

    __slots__ = ("__array_interface__", "_array")

    def __init__(self, array: np.ndarray) -> None:
        face = dict(array.__array_interface__)
        face["data"] = (face["data"][0], True)  # (address, read-only)
        self.__array_interface__ = face
        self._array = array


def _locked(value: np.ndarray) -> np.ndarray:
    """A read-only view of ``value`` that cannot be unlocked (see the module docstring)."""
    view = np.asarray(_ReadOnlyMemory(value))
    if view.dtype != value.dtype:  # the interface spells some dtypes (aligned records) less exactly
        view = view.view(value.dtype)
    return view


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
        if isinstance(value, Iterator):
            raise SharedIteratorError(
                f"an input of this node is a one-shot {type(value).__name__} that another node "
                "also reads (or the run returns): whoever reads it first leaves the others only "
                "what it did not consume. Expected a value that can be read twice: return a "
                "list (list(...)) from the node that makes it.") from None
        # locks, sockets, live handles: nothing can copy it; the node shares it (documented)
        return value
