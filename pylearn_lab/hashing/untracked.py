"""Objects that code reads but whose content is not part of any key (a log, a counter).

The data a function reads besides its arguments -- the globals it names, its
defaults, its closure cells, its class's attributes -- enters its identity by
content, re-hashed at every key, so changing it in place changes the key (see
docs/keys.md). An object the code only *writes* to, such as a list collecting a
log or a counter of calls, is then part of the key too, and every change makes
the next call a miss. :func:`untracked` says it does not change any result: it
enters identities by its type alone. Marking an object that a result does depend
on brings back stale hits; that is the caller's promise.

Examples
--------
>>> import pylearn_lab as pl
>>> CALLS = pl.untracked([])
>>> @pl.component
... def double(x: int) -> int:
...     CALLS.append(x)
...     return 2 * x
>>> before = pl.function_identity(double).digest
>>> CALLS.append(1)
>>> pl.function_identity(double).digest == before
True
>>> is_untracked(CALLS), is_untracked([])
(True, False)
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

__all__ = ["untracked", "is_untracked"]

T = TypeVar("T")

# id -> the object, held strongly so its id is never reused by another object
_MARKED: dict[int, Any] = {}
_LOCK = threading.Lock()


def untracked(obj: T) -> T:
    """Mark ``obj`` as never part of a key when code reads it; returns ``obj`` itself.

    Parameters
    ----------
    obj : object
        Data a component or helper reads (a global, a default, a closure cell, a
        class attribute) that does not change what it computes. Kept alive for the
        session (marks are by identity). Must be mutable: immutable values are refused.

    Raises
    ------
    OptionError
        For an immutable value (``int``, ``str``, ``tuple``...): equal ones are shared
        objects, so a mark would reach unrelated code.
    """
    if type(obj) in _SHARED_IMMUTABLES:
        # Marks are by identity, and equal small ints and interned strings are one object:
        # untracked(0) would mark every 0 any code reads (THRESHOLD = 0 elsewhere, then keyed
        # by its type alone, so THRESHOLD = 0 and another marked value shared a key). Nor can
        # an immutable be written to: a counter ``n += 1`` rebinds the name to a new object.
        from ..errors import OptionError

        raise OptionError(
            f"pl.untracked() marks a mutable object the code writes to (a list, a dict, a log "
            f"object); received an immutable {type(obj).__name__} ({obj!r:.40}), which is "
            "shared with every equal value and cannot be changed in place. Fix: keep the "
            "counter or log in a mutable container, e.g. CALLS = pl.untracked([]) or "
            "STATS = pl.untracked({'n': 0}).")
    with _LOCK:
        _MARKED[id(obj)] = obj
    return obj


_SHARED_IMMUTABLES = frozenset({int, float, complex, str, bytes, bool, type(None), tuple,
                                frozenset, range, type(Ellipsis)})


def is_untracked(obj: Any) -> bool:
    """True when ``obj`` was marked with :func:`untracked`."""
    return _MARKED.get(id(obj)) is obj
