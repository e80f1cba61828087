"""Canonical value hashing: same value, same digest, in any process or session.

The hash of a value is fed into a streaming digest as a type tag followed by
the value's content, so values of different types never collide by accident
(``(1, 2)`` vs ``[1, 2]``, ``1`` vs ``1.0`` vs ``True``). Containers hash
their items recursively; dicts and sets are order-independent. Numpy arrays
hash by dtype, shape and logical (C-order) content, straight from their buffer.

Subclasses are tagged with their class (``OrderedDict`` is not ``dict``, a
``list`` subclass is not a ``list``), recursive containers hash by structure
with back-references, and everyday objects of the scientific stack are keyed
by content (:mod:`~pylearn_lab.hashing.objects`,
:mod:`~pylearn_lab.hashing.frames`, :mod:`~pylearn_lab.hashing.estimators`).
Nothing is hashed by accident (no ``id()``, no pickle bytes): what cannot be
made deterministic (open files, locks, sockets, generators) raises
:class:`~pylearn_lab.errors.UnhashableError` naming the argument that holds it.

Examples
--------
>>> import numpy as np
>>> hash_value({"a": 1, "b": 2}) == hash_value({"a": 1, "b": 2})
True
>>> hash_value({"a": 1, "b": 2}) == hash_value({"b": 2, "a": 1})  # order is what list(d) sees
False
>>> hash_value((1, 2)) == hash_value([1, 2])
False
>>> a = np.arange(12.0).reshape(3, 4)
>>> hash_value(a.T) == hash_value(np.ascontiguousarray(a.T))
True
"""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import fractions
import pathlib
import reprlib
import struct
import sys
import types
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import UnhashableError
from .digest import BIG_BUFFER, feed_buffer, new_digest

__all__ = ["Feeder", "class_digest", "feed_argument", "feed_value", "hash_value", "register_hash"]

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
        containers of those, dataframes, estimators, plain objects, or a type
        with a registered handler.
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
    feed_argument(d, obj, name)
    return d.hexdigest()


def feed_argument(d: Any, obj: Any, path: str) -> None:
    """:func:`feed_value` for a whole argument: also turns too-deep nesting into an UnhashableError."""
    try:
        feed_value(d, obj, path)
    except RecursionError:
        raise UnhashableError(
            path, obj, "it is nested too deeply to hash (more levels than Python's recursion "
            "limit allows); flatten it, or pass it as a numpy array") from None


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
        for sub in [t for t in _HANDLERS if t is not typ and isinstance(t, type) and issubclass(t, typ)]:
            del _HANDLERS[sub]  # a subclass cached before must pick the new handler up


def _tag(d: Any, tag: bytes, text: str = "") -> None:
    raw = text.encode("utf-8", "surrogatepass")
    d.update(tag + _PACK_Q(len(raw)) + raw)


def feed_value(d: Any, obj: Any, path: str) -> None:
    """Write ``obj`` into the streaming digest ``d`` (the recursive core)."""
    handler = _HANDLERS.get(type(obj))
    if handler is None:
        handler = _find_handler(obj, path)
    handler(d, obj, path)


def class_digest(typ: type) -> str:
    """What a value's class contributes: its code for user classes, name and version for library ones."""
    from .functions import function_identity

    return function_identity(typ).digest


# Probes for optional libraries: (module, class attribute paths, feeder). A probe runs only
# when its module is already imported -- an object of its classes cannot exist otherwise.
_PROBES: list[tuple[str, tuple[str, ...], Feeder]] = []


def register_probe(module: str, classes: tuple[str, ...], feeder: Feeder) -> None:
    """Handle instances of ``module``'s ``classes`` (and subclasses), checked by isinstance.

    Unlike :func:`register_hash`, nothing is imported: the classes are looked
    up only once ``module`` is in ``sys.modules``.
    """
    _PROBES.append((module, classes, feeder))


def _probe_classes(module: str, classes: tuple[str, ...]) -> tuple[type, ...]:
    out = []
    for path in classes:
        obj: Any = sys.modules.get(module)
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, type):
            out.append(obj)
    return tuple(out)


# Bases whose handlers already key the exact type; a subclass of any other handled type is
# tagged with its class (a list subclass is not a list, an OrderedDict subclass not one).
_UNTAGGED_BASES = (np.ndarray, np.generic, np.dtype, pathlib.PurePath, enum.Enum)


def _find_handler(obj: Any, path: str) -> Feeder:
    typ = type(obj)
    if hasattr(typ, "__pylearn_hash__"):
        return _feed_custom
    if isinstance(obj, enum.Enum):  # before int/str: an IntEnum is not an int here
        _HANDLERS[typ] = _feed_enum
        return _feed_enum
    for module, classes, feeder in _PROBES:
        if module in sys.modules:
            found = _probe_classes(module, classes)
            if found and isinstance(obj, found):
                _HANDLERS[typ] = feeder
                return feeder
    for base in typ.__mro__:
        h = _HANDLERS.get(base) or _LAZY.get(f"{base.__module__}.{base.__qualname__}")
        if h is not None:
            if base is object:
                break
            # issubclass, not ``in``: once a PurePosixPath (or np.matrix) was hashed its type
            # is cached here too, and a PosixPath (a matrix subclass) found through it must
            # not then turn into a tagged subclass -- its key depended on what had been
            # hashed before in the session (and PurePath's lazily filled slots made it move)
            if (base is not typ and not issubclass(base, _UNTAGGED_BASES)
                    and not _is_namedtuple(typ)):
                h = _subclass_feeder(typ, h)
            _HANDLERS[typ] = h
            return h
    from .functions import feed_callable, is_hashable_callable

    if is_hashable_callable(obj):
        return feed_callable
    from .objects import object_feeder

    return object_feeder(obj, path)


def _is_namedtuple(typ: type) -> bool:
    return issubclass(typ, tuple) and hasattr(typ, "_fields")


def _subclass_feeder(typ: type, base_feeder: Feeder) -> Feeder:
    """A subclass of a builtin: its class (and instance attributes) then the base content."""
    def feed(d: Any, obj: Any, path: str) -> None:
        _tag(d, b"X", f"{typ.__module__}.{typ.__qualname__}")
        d.update(class_digest(typ).encode())
        extra = getattr(obj, "__dict__", None)
        if extra:
            _feed_dict(d, extra, f"{path}.__dict__")
        _feed_slots(d, obj, typ, path)
        base_feeder(d, obj, path)

    return feed


def _feed_slots(d: Any, obj: Any, typ: type, path: str) -> None:
    """The ``__slots__`` values of a subclass of a builtin (``class L(list): __slots__ = ("tag",)``).

    They are instance state like ``__dict__``; without them two lists tagged
    differently shared a key. Nothing is fed for classes without slots, so
    their keys are as before.
    """
    from .objects import _feed_fields, _slot_names

    names = _slot_names(typ)
    if names:
        d.update(b"%")
        _feed_fields(d, obj, names, path)


def _feed_custom(d: Any, obj: Any, path: str) -> None:
    typ = type(obj)
    _tag(d, b"C", f"{typ.__module__}.{typ.__qualname__}")
    # __pylearn_hash__ replaces the *state*; the class's code still counts, as for every other
    # instance: a class redefined with other methods (same name, same stand-in) was served the
    # old class's results
    d.update(class_digest(typ).encode())
    try:
        stand_in = obj.__pylearn_hash__()
    except Exception as exc:  # noqa: BLE001 -- the user's method failed: say where, as the tree does
        raise UnhashableError(path, obj, f"its __pylearn_hash__() raised {type(exc).__name__}: "
                              f"{exc}; fix the method so it returns a hashable stand-in") from exc
    if type(stand_in) is typ:  # itself (or another of its kind): would recurse until RecursionError
        raise UnhashableError(path, obj, "its __pylearn_hash__() returned an instance of its own "
                              "class; return a stand-in made of plain values (e.g. a tuple of "
                              "its defining fields)")
    feed_value(d, stand_in, f"{path}.__pylearn_hash__()")


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


def _enter(d: Any, obj: Any) -> bool:
    """Mark a container as being hashed; False (and a back-reference fed) if it already is.

    A recursive container (``a = []; a.append(a)``) so hashes by its structure:
    the back-reference says how many levels up the repeated container sits.
    """
    active = getattr(d, "active", None)
    if active is None:
        try:
            active = d.active = {}
        except AttributeError:  # a foreign digest-like object: no cycle tracking
            return True
    depth = active.get(id(obj))
    if depth is not None:
        d.update(b"^" + _PACK_Q(len(active) - depth))
        return False
    active[id(obj)] = len(active)
    return True


def _leave(d: Any, obj: Any) -> None:
    active = getattr(d, "active", None)
    if active is not None:
        active.pop(id(obj), None)


def _sequence_feeder(tag: bytes) -> Feeder:
    def feed(d: Any, obj: Any, path: str) -> None:
        if not _enter(d, obj):
            return
        try:
            d.update(tag + _PACK_Q(len(obj)))
            for i, item in enumerate(obj):
                feed_value(d, item, f"{path}[{i}]")
        finally:
            _leave(d, obj)

    return feed


def _sub_digest(obj: Any, path: str, parent: Any = None) -> bytes:
    d = new_digest()
    if parent is not None:
        d.active = getattr(parent, "active", None)
    feed_value(d, obj, path)
    return d.digest()


def _key_text(k: Any) -> str:
    try:
        return reprlib.repr(k)[:40]
    except Exception:  # noqa: BLE001 -- only for naming the path in an error
        return f"<{type(k).__name__}>"


def _feed_dict(d: Any, obj: Any, path: str) -> None:
    if not _enter(d, obj):
        return
    try:
        items = sorted(
            (_sub_digest(k, f"{path} key {_key_text(k)}", d), _sub_digest(v, f"{path}[{_key_text(k)}]", d))
            for k, v in obj.items()
        )
    finally:
        _leave(d, obj)
    d.update(b"d" + _PACK_Q(len(items)))
    for kd, vd in items:
        d.update(kd + vd)


def _feed_dict_in_order(d: Any, obj: Any, path: str) -> None:
    # Insertion order counts: since Python 3.7 a dict iterates in it, and what code computes
    # from a dict often follows it (pd.DataFrame({"b": ..., "a": ...}) orders its columns so,
    # list(d), json.dumps(d), a feature order). Order-independent keys served the result of
    # {"a": 1, "b": 2} for {"b": 2, "a": 1}. Cost: equal dicts built in another order miss
    # each other. Object state (__dict__) stays order-independent (_feed_dict).
    _feed_items_in_order(d, obj, path, b"e")


def _feed_items_in_order(d: Any, obj: Any, path: str, tag: bytes) -> None:
    """``tag``, the length, then each key and value in iteration order."""
    if not _enter(d, obj):
        return
    try:
        d.update(tag + _PACK_Q(len(obj)))
        for k, v in obj.items():
            feed_value(d, k, f"{path} key {_key_text(k)}")
            feed_value(d, v, f"{path}[{_key_text(k)}]")
    finally:
        _leave(d, obj)


def _feed_mappingproxy(d: Any, obj: Any, path: str) -> None:
    # a read-only view of a dict (a class's __dict__, a singledispatch registry): its content
    d.update(b"P")
    _feed_dict_in_order(d, obj, path)


def _feed_ordered_dict(d: Any, obj: Any, path: str) -> None:
    # order counts: OrderedDict equality does, and so may the function reading it
    _feed_items_in_order(d, obj, path, b"o")


def _feed_defaultdict(d: Any, obj: Any, path: str) -> None:
    d.update(b"Y")
    feed_value(d, obj.default_factory, f"{path}.default_factory")
    _feed_dict_in_order(d, obj, path)


def _feed_counter(d: Any, obj: Any, path: str) -> None:
    d.update(b"K")
    _feed_dict_in_order(d, obj, path)  # most_common() breaks ties by insertion order


def _set_feeder(tag: bytes) -> Feeder:
    def feed(d: Any, obj: Any, path: str) -> None:
        if not _enter(d, obj):
            return
        try:
            digests = sorted(_sub_digest(item, f"{path} item", d) for item in obj)
        finally:
            _leave(d, obj)
        d.update(tag + _PACK_Q(len(digests)))
        for item in digests:
            d.update(item)

    return feed


def _dtype_text(dt: np.dtype) -> str:
    """A dtype's canonical text: structured dtypes by field names and types, not offsets."""
    if dt.fields is None:
        if dt.subdtype is not None:
            base, shape = dt.subdtype
            return f"({_dtype_text(base)}){shape}"
        return dt.str
    return "{" + ",".join(f"{n!r}:{_dtype_text(dt.fields[n][0])}" for n in dt.names or ()) + "}"


def _feed_ndarray(d: Any, obj: np.ndarray, path: str) -> None:
    if type(obj) is not np.ndarray:
        _feed_array_subclass(d, obj, path)
        return
    dt = obj.dtype
    _tag(d, b"A", dt.str if dt.fields is None else _dtype_text(dt))
    d.update(_PACK_Q(obj.ndim) + b"".join(_PACK_Q(n) for n in obj.shape))
    if dt.fields is not None:
        # Field by field: padding bytes between fields hold garbage, equal records must agree.
        for name in dt.names or ():
            _feed_ndarray(d, np.ascontiguousarray(obj[name]), f"{path}[{name!r}]")
        return
    if dt.hasobject:
        for i, item in enumerate(obj.ravel(order="C")):
            feed_value(d, item, f"{path}.flat[{i}]")
        return
    if not obj.flags.c_contiguous:
        # Logical content, not memory layout: a view and its copy hash the same.
        obj = np.ascontiguousarray(obj)
    if obj.size:
        raw = obj.reshape(-1).view(np.uint8)
        pad = _LONGDOUBLE_PAD.get(dt.char)
        if pad is not None and dt.itemsize == pad[0]:
            # x87 extended precision: 10 meaningful bytes per 16, the rest is padding
            raw = np.ascontiguousarray(raw.reshape(-1, pad[0])[:, pad[1]])
        if raw.nbytes >= BIG_BUFFER:
            feed_buffer(d, raw)  # its own digest, on every core (see digest.py)
        else:
            d.update(raw)  # small: inline, as feed_buffer would (no extra call per small key)


def _longdouble_layout() -> dict[str, tuple[int, Any]]:
    ld = np.finfo(np.longdouble)
    if np.dtype(np.longdouble).itemsize in (12, 16) and ld.nmant == 63:
        size = np.dtype(np.longdouble).itemsize
        cols = np.r_[0:10]
        return {"g": (size, cols), "G": (2 * size, np.r_[cols, size + cols])}
    return {}


_LONGDOUBLE_PAD = _longdouble_layout()


def _feed_array_subclass(d: Any, obj: np.ndarray, path: str) -> None:
    """np.matrix, masked and record arrays, user subclasses: the class, extras, then the data."""
    typ = type(obj)
    _tag(d, b"U", f"{typ.__module__}.{typ.__qualname__}")
    if obj is np.ma.masked:  # the singleton (its attributes cannot even be read as usual)
        return
    d.update(class_digest(typ).encode())
    if isinstance(obj, np.ma.MaskedArray):
        feed_value(d, np.ma.getmaskarray(obj), f"{path}.mask")
        feed_value(d, obj.fill_value, f"{path}.fill_value")
        obj = obj.filled() if obj.dtype.fields is None else obj.data
    extra = {k: v for k, v in vars(obj).items() if not k.startswith("_")} if hasattr(obj, "__dict__") else {}
    if extra:
        _feed_dict(d, extra, f"{path}.__dict__")
    _feed_ndarray(d, np.asarray(obj).view(np.ndarray), path)


def _feed_npscalar(d: Any, obj: np.generic, path: str) -> None:
    _feed_ndarray(d, np.asarray(obj).view(np.ndarray), path)
    d.update(b"s")  # a numpy scalar differs from a 0-d array


def _feed_text_of(tag: bytes, to_text: Callable[[Any], str]) -> Feeder:
    def feed(d: Any, obj: Any, path: str) -> None:
        _tag(d, tag, to_text(obj))

    return feed


def _feed_enum(d: Any, obj: enum.Enum, path: str) -> None:
    typ = type(obj)
    # name and value (IntFlag pseudo-members have no single name), and the class's code:
    # an Enum redefined under one name with other values or methods is another value
    _tag(d, b"E", f"{typ.__module__}.{typ.__qualname__}.{obj.name}")
    d.update(class_digest(typ).encode())
    feed_value(d, obj._value_, f"{path}.value")


def _feed_module(d: Any, obj: types.ModuleType, path: str) -> None:
    """A module passed as a value (``xp=np`` as a default, ``self.lib = np``).

    Library modules count as function identities count them: by name and package
    version. It used to walk the module's whole namespace, so ``def f(x, xp=np)``
    could not be keyed at all (a sentinel deep inside numpy was refused). A user
    module counts by its name and its public contents (functions by their code),
    with the modules it holds by name only.
    """
    from .library import is_library_module
    from .versions import package_version

    if is_library_module(obj):
        _tag(d, b"m", f"{obj.__name__}|{package_version(obj.__name__)}")
        return
    if not _enter(d, obj):
        return
    try:
        _tag(d, b"v", obj.__name__)
        ns = vars(obj)
        for name in sorted(k for k in ns if not (k.startswith("__") and k.endswith("__"))):
            value = ns[name]
            _tag(d, b"k", name)
            if isinstance(value, types.ModuleType):
                _tag(d, b"m", value.__name__)
            else:
                feed_value(d, value, f"{path}.{name}")
    finally:
        _leave(d, obj)


def _feed_range(d: Any, obj: range, path: str) -> None:
    d.update(b"r")
    for part in (obj.start, obj.stop, obj.step):
        _feed_int(d, part, path)


def _feed_slice(d: Any, obj: slice, path: str) -> None:
    d.update(b"S")
    for part in (obj.start, obj.stop, obj.step):
        feed_value(d, part, path)


def _feed_namedtuple_or_tuple(d: Any, obj: tuple, path: str) -> None:
    typ = type(obj)
    if typ is not tuple:
        _tag(d, b"n", f"{typ.__module__}.{typ.__qualname__}")
        d.update(class_digest(typ).encode())
        extra = getattr(obj, "__dict__", None)
        if extra:  # a NamedTuple subclass without __slots__ = () carries attributes too
            _feed_dict(d, extra, f"{path}.__dict__")
    _feed_tuple(d, obj, path)


def _tz_text(tz: Any) -> str:
    """A time zone by identity (its key), not only by today's offset."""
    if tz is None:
        return ""
    key = getattr(tz, "key", None) or getattr(tz, "zone", None)
    return f"{type(tz).__module__}.{type(tz).__qualname__}:{key if key else repr(tz)}"


def _feed_datetime(d: Any, obj: datetime.datetime, path: str) -> None:
    _tag(d, b"w", f"{obj.replace(tzinfo=None).isoformat()}|{obj.utcoffset()}|{obj.fold}|{_tz_text(obj.tzinfo)}")


def _feed_time(d: Any, obj: datetime.time, path: str) -> None:
    _tag(d, b"h", f"{obj.replace(tzinfo=None).isoformat()}|{obj.fold}|{_tz_text(obj.tzinfo)}")


def _feed_path(d: Any, obj: pathlib.PurePath, path: str) -> None:
    # the flavour counts: PurePosixPath("a/b") and PureWindowsPath("a/b") are other paths
    _tag(d, b"p", f"{type(obj).__name__}:{obj}")


_feed_tuple = _sequence_feeder(b"t")


# The bytes each plain scalar feeds, as one ``bytes`` per value, keyed by the feeder that
# writes them: the key of a call whose arguments are all such scalars is built as one
# buffer and hashed in one pass (``graph/expr.py``), with exactly the bytes the streaming
# feeders above write (tests/hashing/test_plain_bytes.py checks both ways agree). Keyed by
# the *feeder*, so a type whose handler is replaced (``register_hash(int, ...)``) or a
# subclass (its own tagging feeder) is never encoded here.
def _enc_none(obj: Any) -> bytes:
    return b"N"


def _enc_bool(obj: Any) -> bytes:
    return b"T" if obj else b"F"


def _enc_int(obj: Any) -> bytes:
    if -(2**63) <= obj < 2**63:
        return b"i" + _PACK_Q(obj)
    raw = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
    return b"I" + _PACK_Q(len(raw)) + raw


def _enc_float(obj: Any) -> bytes:
    return b"f" + _PACK_D(obj)


def _enc_str(obj: Any) -> bytes:
    raw = obj.encode("utf-8", "surrogatepass")
    return b"s" + _PACK_Q(len(raw)) + raw


PLAIN_BYTES: dict[Feeder, Callable[[Any], bytes]] = {
    _feed_none: _enc_none, _feed_bool: _enc_bool, _feed_int: _enc_int, _feed_float: _enc_float,
    _feed_str: _enc_str,
}
"""``PLAIN_BYTES[_HANDLERS[type(v)]](v)``: the bytes ``feed_value`` writes for a plain scalar."""

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
        dict: _feed_dict_in_order,
        set: _set_feeder(b"{"),
        frozenset: _set_feeder(b"}"),
        np.ndarray: _feed_ndarray,
        np.generic: _feed_npscalar,
        np.dtype: _feed_text_of(b"y", _dtype_text),
        enum.Enum: _feed_enum,
        range: _feed_range,
        slice: _feed_slice,
        type(Ellipsis): lambda d, o, p: d.update(b"."),
        pathlib.PurePath: _feed_path,
        datetime.datetime: _feed_datetime,
        datetime.date: _feed_text_of(b"a", lambda o: o.isoformat()),
        datetime.time: _feed_time,
        datetime.timedelta: _feed_text_of(b"j", repr),
        decimal.Decimal: _feed_text_of(b"x", str),
        fractions.Fraction: _feed_text_of(b"q", str),
        uuid.UUID: _feed_text_of(b"u", str),
        collections.OrderedDict: _feed_ordered_dict,
        types.MappingProxyType: _feed_mappingproxy,
        types.ModuleType: _feed_module,
        collections.defaultdict: _feed_defaultdict,
        collections.Counter: _feed_counter,
    }
)

# The everyday objects of the scientific stack register themselves here (imported last:
# they use the feeders above).
from . import estimators, frames, objects  # noqa: F401
