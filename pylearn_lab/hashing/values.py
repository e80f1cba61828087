"""Canonical value hashing: same value, same digest, in any process or session.

The hash of a value is fed into a streaming digest as a type tag followed by
the value's content, so values of different types never collide by accident
(``(1, 2)`` vs ``[1, 2]``, ``1`` vs ``1.0`` vs ``True``). Containers hash
their items recursively; dicts and sets are order-independent. Numpy arrays
hash by dtype, shape and logical (C-order) content, straight from their buffer.

Unknown types are never hashed by accident (no ``id()``, no pickle bytes):
a type is hashable through :func:`register_hash` or a ``__pylearn_hash__``
method, otherwise :class:`~pylearn_lab.errors.UnhashableError` names the
argument that holds it.

Examples
--------
>>> import numpy as np
>>> hash_value({"a": 1, "b": 2}) == hash_value({"b": 2, "a": 1})
True
>>> hash_value((1, 2)) == hash_value([1, 2])
False
>>> a = np.arange(12.0).reshape(3, 4)
>>> hash_value(a.T) == hash_value(np.ascontiguousarray(a.T))
True
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import pathlib
import struct
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import UnhashableError
from .digest import new_digest

__all__ = ["hash_value", "register_hash", "feed_value", "Feeder"]

Feeder = Callable[[Any, Any, str], None]
"""``feeder(digest, value, path)``: writes one value into a digest."""

_PACK_D = struct.Struct("<d").pack
_PACK_Q = struct.Struct("<q").pack

# Exact-type table for speed, then an MRO walk for subclasses.
_HANDLERS: dict[type, Feeder] = {}
# Handlers registered by "module.QualName" for optional libraries, so that
# registering them does not import the library.
_LAZY: dict[str, Feeder] = {}


def hash_value(obj: Any, *, name: str = "value") -> str:
    """Return the canonical hex digest of ``obj``.

    Parameters
    ----------
    obj : object
        A value made of numbers, strings, bytes, None, numpy arrays, functions,
        containers of those, or a type with a registered handler.
    name : str
        How to name the value in an error message (e.g. ``"argument 'x'"``).

    Returns
    -------
    str
        32 hex characters.

    Raises
    ------
    UnhashableError
        When ``obj`` (or something inside it) has no canonical hash.

    Examples
    --------
    >>> hash_value(1) == hash_value(1)
    True
    >>> hash_value(1) == hash_value(1.0)
    False
    """
    d = new_digest()
    feed_value(d, obj, name)
    return d.hexdigest()


def register_hash(typ: type | str, fn: Callable[[Any], Any]) -> None:
    """Teach :func:`hash_value` a type.

    Parameters
    ----------
    typ : type or str
        The class, or its ``"module.QualName"`` to avoid importing it.
    fn : callable
        ``fn(obj)`` returns a hashable stand-in for ``obj`` (e.g. a tuple of
        its defining fields). Subclasses use the handler too.

    Examples
    --------
    >>> class Point:
    ...     def __init__(self, x, y):
    ...         self.x, self.y = x, y
    >>> register_hash(Point, lambda p: (p.x, p.y))
    >>> hash_value(Point(1, 2)) == hash_value(Point(1, 2))
    True
    """
    qual = typ if isinstance(typ, str) else f"{typ.__module__}.{typ.__qualname__}"

    def feeder(d: Any, obj: Any, path: str) -> None:
        _tag(d, b"R", qual)
        feed_value(d, fn(obj), path)

    if isinstance(typ, str):
        _LAZY[typ] = feeder
    else:
        _HANDLERS[typ] = feeder


def _tag(d: Any, tag: bytes, text: str = "") -> None:
    raw = text.encode("utf-8", "surrogatepass")
    d.update(tag + _PACK_Q(len(raw)) + raw)


def feed_value(d: Any, obj: Any, path: str) -> None:
    """Write ``obj`` into the streaming digest ``d`` (the recursive core)."""
    handler = _HANDLERS.get(type(obj))
    if handler is None:
        handler = _find_handler(obj, path)
    handler(d, obj, path)


def _find_handler(obj: Any, path: str) -> Feeder:
    typ = type(obj)
    if isinstance(obj, enum.Enum):  # before int/str: an IntEnum is not an int here
        _HANDLERS[typ] = _feed_enum
        return _feed_enum
    for base in typ.__mro__:
        h = _HANDLERS.get(base) or _LAZY.get(f"{base.__module__}.{base.__qualname__}")
        if h is not None:
            if base is not object:
                _HANDLERS[typ] = h
            return h
    if hasattr(typ, "__pylearn_hash__"):
        return _feed_custom
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _feed_dataclass
    from .functions import feed_callable, is_hashable_callable

    if is_hashable_callable(obj):
        return feed_callable
    raise UnhashableError(path, obj)


def _feed_custom(d: Any, obj: Any, path: str) -> None:
    typ = type(obj)
    _tag(d, b"C", f"{typ.__module__}.{typ.__qualname__}")
    feed_value(d, obj.__pylearn_hash__(), f"{path}.__pylearn_hash__()")


def _feed_dataclass(d: Any, obj: Any, path: str) -> None:
    typ = type(obj)
    _tag(d, b"D", f"{typ.__module__}.{typ.__qualname__}")
    for f in dataclasses.fields(obj):
        _tag(d, b"f", f.name)
        feed_value(d, getattr(obj, f.name), f"{path}.{f.name}")


def _feed_none(d: Any, obj: Any, path: str) -> None:
    d.update(b"N")


def _feed_bool(d: Any, obj: Any, path: str) -> None:
    d.update(b"T" if obj else b"F")


def _feed_int(d: Any, obj: Any, path: str) -> None:
    if -(2**63) <= obj < 2**63:
        d.update(b"i" + _PACK_Q(obj))
    else:
        raw = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
        d.update(b"I" + _PACK_Q(len(raw)) + raw)


def _feed_float(d: Any, obj: Any, path: str) -> None:
    # Exact: the IEEE bytes, so 0.1 + 0.2 and 0.3 differ, as they do when computed with.
    d.update(b"f" + _PACK_D(obj))


def _feed_complex(d: Any, obj: Any, path: str) -> None:
    d.update(b"c" + _PACK_D(obj.real) + _PACK_D(obj.imag))


def _feed_str(d: Any, obj: Any, path: str) -> None:
    _tag(d, b"s", obj)


def _feed_bytes(d: Any, obj: Any, path: str) -> None:
    d.update(b"b" + _PACK_Q(len(obj)))
    d.update(obj)


def _feed_bytearray(d: Any, obj: Any, path: str) -> None:
    d.update(b"B" + _PACK_Q(len(obj)))
    d.update(obj)


def _feed_memoryview(d: Any, obj: memoryview, path: str) -> None:
    # format and shape count: the same bytes read as 'd' or as 'B' are other values
    _tag(d, b"M", f"{obj.format}|{obj.itemsize}|{obj.shape}")
    d.update(obj.tobytes())


def _sequence_feeder(tag: bytes) -> Feeder:
    def feed(d: Any, obj: Any, path: str) -> None:
        d.update(tag + _PACK_Q(len(obj)))
        for i, item in enumerate(obj):
            feed_value(d, item, f"{path}[{i}]")

    return feed


def _sub_digest(obj: Any, path: str) -> bytes:
    d = new_digest()
    feed_value(d, obj, path)
    return d.digest()


def _feed_dict(d: Any, obj: Any, path: str) -> None:
    items = sorted(
        (_sub_digest(k, f"{path} key {k!r}"), _sub_digest(v, f"{path}[{k!r}]"))
        for k, v in obj.items()
    )
    d.update(b"d" + _PACK_Q(len(items)))
    for kd, vd in items:
        d.update(kd + vd)


def _set_feeder(tag: bytes) -> Feeder:
    def feed(d: Any, obj: Any, path: str) -> None:
        digests = sorted(_sub_digest(item, f"{path} item") for item in obj)
        d.update(tag + _PACK_Q(len(digests)))
        for item in digests:
            d.update(item)

    return feed


def _feed_ndarray(d: Any, obj: np.ndarray, path: str) -> None:
    dt = obj.dtype
    _tag(d, b"A", dt.str if dt.fields is None else repr(dt.descr))
    d.update(_PACK_Q(obj.ndim) + b"".join(_PACK_Q(n) for n in obj.shape))
    if dt.hasobject:
        for i, item in enumerate(obj.ravel(order="C")):
            feed_value(d, item, f"{path}.flat[{i}]")
        return
    if not obj.flags.c_contiguous:
        # Logical content, not memory layout: a view and its copy hash the same.
        obj = np.ascontiguousarray(obj)
    if obj.size:
        d.update(obj.reshape(-1).view(np.uint8))


def _feed_npscalar(d: Any, obj: np.generic, path: str) -> None:
    _feed_ndarray(d, np.asarray(obj), path)
    d.update(b"s")  # a numpy scalar differs from a 0-d array


def _feed_text_of(tag: bytes, to_text: Callable[[Any], str]) -> Feeder:
    def feed(d: Any, obj: Any, path: str) -> None:
        _tag(d, tag, to_text(obj))

    return feed


def _feed_enum(d: Any, obj: enum.Enum, path: str) -> None:
    typ = type(obj)
    _tag(d, b"E", f"{typ.__module__}.{typ.__qualname__}.{obj.name}")


def _feed_range(d: Any, obj: range, path: str) -> None:
    d.update(b"r" + _PACK_Q(obj.start) + _PACK_Q(obj.stop) + _PACK_Q(obj.step))


def _feed_slice(d: Any, obj: slice, path: str) -> None:
    d.update(b"S")
    for part in (obj.start, obj.stop, obj.step):
        feed_value(d, part, path)


def _feed_namedtuple_or_tuple(d: Any, obj: tuple, path: str) -> None:
    typ = type(obj)
    if typ is not tuple:
        _tag(d, b"n", f"{typ.__module__}.{typ.__qualname__}")
    _feed_tuple(d, obj, path)


def _feed_pandas(d: Any, obj: Any, path: str) -> None:
    import pandas as pd

    typ = type(obj)
    _tag(d, b"P", f"{typ.__module__}.{typ.__qualname__}")
    if isinstance(obj, pd.DataFrame):
        feed_value(d, [str(c) for c in obj.columns], path)
        feed_value(d, [str(t) for t in obj.dtypes], path)
        _feed_pandas(d, obj.index, path)
        for col in obj.columns:
            feed_value(d, obj[col].to_numpy(), f"{path}[{col!r}]")
    elif isinstance(obj, pd.Series):
        feed_value(d, (str(obj.name), str(obj.dtype)), path)
        _feed_pandas(d, obj.index, path)
        feed_value(d, obj.to_numpy(), path)
    else:  # Index
        feed_value(d, obj.to_numpy(), path)


_feed_tuple = _sequence_feeder(b"t")

_HANDLERS.update(
    {
        type(None): _feed_none,
        bool: _feed_bool,
        int: _feed_int,
        float: _feed_float,
        complex: _feed_complex,
        str: _feed_str,
        bytes: _feed_bytes,
        bytearray: _feed_bytearray,
        memoryview: _feed_memoryview,
        tuple: _feed_namedtuple_or_tuple,
        list: _sequence_feeder(b"l"),
        dict: _feed_dict,
        set: _set_feeder(b"{"),
        frozenset: _set_feeder(b"}"),
        np.ndarray: _feed_ndarray,
        np.generic: _feed_npscalar,
        np.dtype: _feed_text_of(b"y", lambda t: t.str if t.fields is None else repr(t.descr)),
        enum.Enum: _feed_enum,
        range: _feed_range,
        slice: _feed_slice,
        type(Ellipsis): lambda d, o, p: d.update(b"."),
        pathlib.PurePath: _feed_text_of(b"p", str),
        datetime.datetime: _feed_text_of(b"w", lambda o: o.isoformat()),
        datetime.date: _feed_text_of(b"a", lambda o: o.isoformat()),
        datetime.time: _feed_text_of(b"h", lambda o: o.isoformat()),
        datetime.timedelta: _feed_text_of(b"j", repr),
        decimal.Decimal: _feed_text_of(b"x", str),
        fractions.Fraction: _feed_text_of(b"q", str),
        uuid.UUID: _feed_text_of(b"u", str),
    }
)
for _name in ("DataFrame", "Series", "Index"):
    _LAZY[f"pandas.core.frame.{_name}"] = _feed_pandas
_LAZY["pandas.core.series.Series"] = _feed_pandas
_LAZY["pandas.core.indexes.base.Index"] = _feed_pandas
