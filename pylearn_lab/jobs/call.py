"""``call(fn, args, kwargs, backend=)``: the Jobman-style asynchronous proxy.

``call`` returns a :class:`concurrent.futures.Future` at once. The call is
keyed like any node (function identity + arguments); when the cache already
holds it, the future is resolved immediately and no backend is touched at all
(not even resolved: a hit works with no cluster running).

Examples
--------
>>> import operator
>>> call(operator.add, (2, 3), cache=False).result()
5
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import weakref
from concurrent.futures._base import FINISHED
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cloudpickle
import numpy as np

from ..cache.cache import resolve_cache
from ..errors import UnpicklableError
from ..graph.component import Component, as_component
from ..graph.expr import Expr, build_expr

__all__ = ["call", "check_picklable"]

_COMPONENT_CALL = Component.__call__

_PLAIN = (type(None), bool, int, float, complex, str, bytes)
_RESOLVED_LOCK = threading.Condition()  # re-entrant; a finished future never waits on it


class _Resolved(cf.Future):
    """A future born finished (a cache hit): a plain :class:`~concurrent.futures.Future`
    in every behaviour, without building a lock and a condition per hit (a third of
    the hit's cost past the key and the lookup).

    Examples
    --------
    >>> f = _Resolved(3)
    >>> f.done(), f.result(), f.cancel()
    (True, 3, False)
    """

    # Constant for every resolved future: class attributes, not one store per hit.
    _condition = _RESOLVED_LOCK
    _state = FINISHED
    _exception = None

    def __init__(self, value: Any) -> None:  # noqa: D107 -- Future's own state, set finished
        self._result = value
        self._waiters: list[Any] = []  # wait()/as_completed() add theirs to every future
        self._done_callbacks: list[Any] = []

    def result(self, timeout: float | None = None) -> Any:
        """The value (a finished future never changes state: no lock to take).

        ``set_result``/``set_exception`` on it raise ``InvalidStateError`` and
        ``cancel()`` returns False, so what is read here is final.
        """
        return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """None: a resolved hit holds a value, never an exception."""
        return None
_CHECKED: "weakref.WeakSet[Any]" = weakref.WeakSet()
_CHECKED_DATA: set[Any] = _CHECKED.data  # type: ignore[attr-defined]  # its set of refs


def check_picklable(value: Any, path: str) -> None:
    """Raise :class:`UnpicklableError` naming ``path`` when ``value`` cannot travel.

    Plain data and arrays are accepted without pickling them (cheap for big arrays).

    Examples
    --------
    >>> import threading
    >>> check_picklable(threading.Lock(), "argument 'lock'")
    Traceback (most recent call last):
    ...
    pylearn_lab.errors.UnpicklableError: cannot pickle argument 'lock' of type _thread.lock (TypeError: cannot pickle '_thread.lock' object). Values sent to workers or stored in the cache must be picklable (cloudpickle). Fix: pass the data the object is built from and build it inside the function, or run on the 'serial' or 'threads' backend.
    """
    if isinstance(value, _PLAIN) or isinstance(value, Expr):
        return
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        return
    if type(value) in (list, tuple, set, frozenset):
        for i, item in enumerate(value):
            check_picklable(item, f"{path}[{i}]")
        return
    if type(value) is dict:
        for k, item in value.items():
            check_picklable(item, f"{path}[{k!r}]")
        return
    try:
        cloudpickle.dumps(value, protocol=5)
    except Exception as exc:
        raise UnpicklableError(path, value, exc) from None


def call(
    fn: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    backend: Any = None,
    cache: Any = None,
) -> cf.Future:
    """Schedule ``fn(*args, **kwargs)``; return a future for its (cached) result.

    Parameters
    ----------
    fn : callable
        Any function or component; notebook functions and lambdas work.
    args, kwargs :
        Arguments: must be hashable (by content) and picklable.
    backend : str or Backend, optional
        Where to run on a miss (default: the session default).
    cache : Cache, path, None or False
        None: the session cache; False: always compute.

    Returns
    -------
    concurrent.futures.Future
        Resolved at once on a cache hit.

    Raises
    ------
    UnhashableError, UnpicklableError
        At the call, naming the offending argument and its type.
    """
    if type(args) is not tuple and (isinstance(args, (str, bytes))
                                    or not isinstance(args, Sequence)):
        raise TypeError(
            f"call() expected args as a tuple or list, received {type(args).__name__}: "
            f"{args!r:.60}. Wrap a single argument: call(fn, (x,))."
        )
    if kwargs is not None and type(kwargs) is not dict and not isinstance(kwargs, Mapping):
        raise TypeError(f"call() expected kwargs as a dict, received {type(kwargs).__name__}.")
    kwargs = dict(kwargs) if kwargs else {}
    comp = as_component(fn)
    _check_function(comp.fn)
    for i, a in enumerate(args):
        if type(a) not in _PLAIN:  # plain values need no check (the hit path stays short)
            check_picklable(a, f"argument {i} of {comp.name}()")
    for k, v in kwargs.items():
        if type(v) not in _PLAIN:
            check_picklable(v, f"argument {k!r} of {comp.name}()")
    if type(comp).__call__ is _COMPONENT_CALL:  # what comp(*args, **kwargs) does, one frame less
        expr = build_expr(comp, args, kwargs)
    else:
        expr = comp(*args, **kwargs)
    store = resolve_cache(cache)
    if store is not None and comp.cache:
        hit, value = store.lookup(expr.key)
        if hit:
            return _Resolved(value)
    from ..vm.loop import run

    return run(expr, backend=backend, cache=store if store is not None else False,
               wait=False, progress=False)


def _check_function(fn: Any) -> None:
    """Check once per function that it can travel (pickling costs microseconds)."""
    try:
        if weakref.ref(fn) in _CHECKED_DATA:  # ``fn in _CHECKED`` without WeakSet's frame
            return
    except TypeError:  # an unhashable or not weak-referenceable callable: check it every time
        check_picklable(fn, "the function")
        return
    check_picklable(fn, "the function")
    try:
        _CHECKED.add(fn)
    except TypeError:
        pass
