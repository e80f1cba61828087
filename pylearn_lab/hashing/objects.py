"""Plain objects keyed by class identity plus state, walked canonically.

What counts for an instance of a class without a handler of its own:

* its class: for user classes their code (methods, bases, attributes,
  transitively -- :func:`~pylearn_lab.hashing.functions.function_identity`),
  for library classes the package version and qualified name;
* its state, the first that applies: ``__getstate__`` when the class defines
  one, ``__reduce_ex__(4)`` when the class customises pickling (constructor,
  arguments, state, items -- what a copy would be rebuilt from), otherwise
  ``__dict__`` and every ``__slots__`` value (a slot without a value counts as
  missing, not as ``None``).

Families with a canonical form of their own: dataclasses (fields without a
value too), attrs classes, ``SimpleNamespace``, ``argparse.Namespace``,
``deque`` (with ``maxlen``), ``random.Random``, numpy ``RandomState``,
``Generator``, bit generators and ``SeedSequence`` (by their state).

Refused, with an :class:`~pylearn_lab.errors.UnhashableError` that names the
argument: what cannot be made deterministic -- open files and streams, locks,
sockets, generators and coroutines, threads, database connections.

Examples
--------
>>> from pylearn_lab.hashing import hash_value
>>> class P:
...     def __init__(self, x):
...         self.x = x
>>> hash_value(P(1)) == hash_value(P(1)), hash_value(P(1)) == hash_value(P(2))
(True, False)
>>> import io
>>> hash_value(io.StringIO("x"))
Traceback (most recent call last):
    ...
pylearn_lab.errors.UnhashableError: cannot hash value of type _io.StringIO: ...
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import io
import random
import socket
import sqlite3
import threading
import types
from typing import Any

import numpy as np

from ..errors import UnhashableError
from .values import _HANDLERS, Feeder, _feed_dict, _tag, class_digest, feed_value

__all__ = ["REFUSED", "object_feeder"]

_MISSING_TAG = b"~"

#: Types refused outright, with the reason shown to the user.
REFUSED: tuple[tuple[tuple[type, ...], str], ...] = (
    ((io.IOBase,), "an open file or stream has no content to key by; pass its path or its data"),
    ((type(threading.Lock()), type(threading.RLock()), threading.Condition, threading.Event,
      threading.Semaphore, threading.Thread),
     "a lock, event or thread is runtime state; leave it out of the arguments"),
    ((socket.socket,), "a socket is a live connection; pass the data it would deliver"),
    ((types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType),
     "a generator yields each value once; pass a list (list(gen)) or the parameters that make it"),
    ((sqlite3.Connection, sqlite3.Cursor), "a database connection is live state; pass a query's result"),
    ((types.FrameType, types.TracebackType), "a frame or traceback is runtime state"),
)


def object_feeder(obj: Any, path: str) -> Feeder:
    """The feeder for ``obj``'s type (generic walk), or raise UnhashableError."""
    typ = type(obj)
    for types_, reason in REFUSED:
        if isinstance(obj, types_):
            raise UnhashableError(path, obj, reason)
    if _is_live_connection(obj):
        raise UnhashableError(path, obj, "a live connection is runtime state; pass a query's result")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _cache(typ, _feed_dataclass)
    if hasattr(typ, "__attrs_attrs__"):
        return _cache(typ, _feed_attrs)
    if typ is object:
        raise UnhashableError(path, obj, "a bare object() has no content, only an identity "
                              "(a sentinel?); pass a value that says what it stands for")
    if isinstance(obj, type):
        # a class passed as a value is a callable: is_hashable_callable handled it
        raise UnhashableError(path, obj)
    return _cache(typ, _feed_object)


def _cache(typ: type, feeder: Feeder) -> Feeder:
    _HANDLERS[typ] = feeder
    return feeder


def _is_live_connection(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith(("psycopg", "psycopg2", "sqlalchemy.engine", "pymongo")) and hasattr(obj, "close")


def _class_tag(d: Any, obj: Any, tag: bytes) -> None:
    typ = type(obj)
    _tag(d, tag, f"{typ.__module__}.{typ.__qualname__}")
    d.update(class_digest(typ).encode())


def _feed_fields(d: Any, obj: Any, names: list[str], path: str) -> None:
    d.update(len(names).to_bytes(8, "little"))
    for name in names:
        _tag(d, b"f", name)
        try:
            value = getattr(obj, name)
        except AttributeError:  # a field that never got a value (init=False, no default)
            d.update(_MISSING_TAG)
            continue
        feed_value(d, value, f"{path}.{name}")


def _feed_dataclass(d: Any, obj: Any, path: str) -> None:
    _class_tag(d, obj, b"D")
    names = [f.name for f in dataclasses.fields(obj)]
    _feed_fields(d, obj, names, path)
    _feed_extra_attributes(d, obj, names, path)


def _feed_attrs(d: Any, obj: Any, path: str) -> None:
    _class_tag(d, obj, b"Z")
    names = [a.name for a in type(obj).__attrs_attrs__]
    _feed_fields(d, obj, names, path)
    _feed_extra_attributes(d, obj, names, path)


def _feed_extra_attributes(d: Any, obj: Any, fields: list[str], path: str) -> None:
    """Instance attributes beyond the declared fields (``cfg.extra = 5``, set in ``__post_init__``).

    Methods read them like fields, so they count: keyed by the fields alone, two
    configs differing only there shared an entry. A ``functools.cached_property``
    value is derived from the rest and left out (reading it must not change the
    key). Nothing is fed when there are none, so plain dataclasses key as before.
    """
    state = getattr(obj, "__dict__", None)
    if not state:
        return
    typ = type(obj)
    extra = {k: v for k, v in state.items() if k not in fields
             and not isinstance(getattr(typ, k, None), functools.cached_property)}
    if extra:
        d.update(b"+")
        _feed_dict(d, extra, f"{path}.__dict__")


def _feed_namespace(d: Any, obj: Any, path: str) -> None:
    _class_tag(d, obj, b"W")
    _feed_dict(d, dict(vars(obj)), path)  # attributes by name, in any order


def _feed_deque(d: Any, obj: collections.deque, path: str) -> None:
    _class_tag(d, obj, b"Q")
    feed_value(d, obj.maxlen, f"{path}.maxlen")
    feed_value(d, list(obj), path)


def _feed_random(d: Any, obj: random.Random, path: str) -> None:
    _class_tag(d, obj, b"G")
    try:
        state = obj.getstate()
    except NotImplementedError:  # random.SystemRandom: the OS entropy source has no state
        raise UnhashableError(path, obj, "it draws from the operating system's entropy, which "
                              "has no state to key by (no two runs agree); pass a seeded "
                              "random.Random(seed) or the seed itself") from None
    feed_value(d, state, f"{path}.getstate()")


def _feed_random_state(d: Any, obj: np.random.RandomState, path: str) -> None:
    _class_tag(d, obj, b"G")
    feed_value(d, obj.get_state(legacy=False), f"{path}.get_state()")


def _feed_generator(d: Any, obj: np.random.Generator, path: str) -> None:
    _class_tag(d, obj, b"G")
    _feed_bit_generator(d, obj.bit_generator, f"{path}.bit_generator")


def _feed_bit_generator(d: Any, obj: Any, path: str) -> None:
    _class_tag(d, obj, b"g")
    feed_value(d, obj.state, f"{path}.state")
    # The seed sequence counts too: ``rng.spawn(n)`` derives children from it (and advances
    # its spawn counter) without touching ``state``, so by state alone a generator that had
    # spawned served the children of the first spawn again.
    seq = getattr(obj, "seed_seq", None)
    if isinstance(seq, np.random.SeedSequence):
        _feed_seed_sequence(d, seq, f"{path}.seed_seq")


def _feed_seed_sequence(d: Any, obj: Any, path: str) -> None:
    _class_tag(d, obj, b"q")
    feed_value(d, (obj.entropy, tuple(obj.spawn_key), obj.pool_size, obj.n_children_spawned), path)


def _slot_names(typ: type) -> list[str]:
    names: list[str] = []
    for klass in typ.__mro__:
        slots = vars(klass).get("__slots__", ())
        for s in (slots,) if isinstance(slots, str) else slots:
            if s not in ("__dict__", "__weakref__") and s not in names:
                names.append(s)
    return names


def _feed_object(d: Any, obj: Any, path: str) -> None:
    """A plain instance: class identity, then its state (see the module docstring)."""
    from .values import _enter, _leave

    typ = type(obj)
    _class_tag(d, obj, b"O")
    if not _enter(d, obj):
        return
    try:
        getstate = getattr(typ, "__getstate__", None)
        if getstate is not None and getstate is not getattr(object, "__getstate__", None):
            d.update(b"1")
            feed_value(d, obj.__getstate__(), f"{path}.__getstate__()")
            return
        if typ.__reduce_ex__ is not object.__reduce_ex__ or typ.__reduce__ is not object.__reduce__:
            try:
                rv = obj.__reduce_ex__(4)
            except Exception as exc:  # noqa: BLE001 -- any failure means: no canonical state
                raise UnhashableError(path, obj, f"it cannot be reduced to its state ({exc})") from None
            if isinstance(rv, str):  # a global singleton, pickled by name
                _tag(d, b"2", rv)
                return
            d.update(b"3")
            rv = tuple(rv) + (None,) * (6 - len(rv))
            func, args, state, items, dict_items = rv[0], rv[1], rv[2], rv[3], rv[4]
            feed_value(d, func, f"{path}.__reduce__ callable")
            feed_value(d, args, f"{path}.__reduce__ arguments")
            feed_value(d, state, f"{path}.__reduce__ state")
            feed_value(d, None if items is None else list(items), f"{path}.__reduce__ items")
            feed_value(d, None if dict_items is None else dict(dict_items), f"{path}.__reduce__ items")
            return
        d.update(b"4")
        state = getattr(obj, "__dict__", None)
        if state is None:
            feed_value(d, None, f"{path}.__dict__")
        else:  # attributes by name, not by the order they were set in
            _feed_dict(d, dict(state), f"{path}.__dict__")
        slots = _slot_names(typ)
        if slots:
            _feed_fields(d, obj, slots, path)
        elif state is None and not _is_plain_python(typ):
            # an extension type with neither a dict, slots nor pickling support: its state is
            # invisible to us, so two different objects would share a key
            raise UnhashableError(path, obj, "its state is not visible (no __dict__, __slots__, "
                                  "__getstate__ or __reduce__)")
    finally:
        _leave(d, obj)


def _is_plain_python(typ: type) -> bool:
    # classes written in Python carry __dict__ or __slots__ somewhere in their MRO
    return any("__slots__" in vars(k) or "__dict__" in vars(k) for k in typ.__mro__[:-1])


_HANDLERS.update({
    types.SimpleNamespace: _feed_namespace,
    argparse.Namespace: _feed_namespace,
    collections.deque: _feed_deque,
    random.Random: _feed_random,
    np.random.RandomState: _feed_random_state,
    np.random.Generator: _feed_generator,
    np.random.BitGenerator: _feed_bit_generator,
    np.random.SeedSequence: _feed_seed_sequence,
})
for _bg in (np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox, np.random.SFC64):
    _HANDLERS[_bg] = _feed_bit_generator
