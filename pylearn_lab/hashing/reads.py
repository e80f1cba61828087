"""What one user function or class reads, and when its memoised identity still holds.

:func:`local_parts` collects what a function or class contributes by itself:
its code, defaults, closure cells, attributes, the globals it names (names not
defined yet too), the modules it imports, and for a class its bases, methods
and other attributes. Each part is either hashed once (immutable data) or
re-hashed at every validation (mutable data the code reads, see
``LocalParts.volatile``); :func:`still_valid` is that validation. The
transitive walk and the public entry point are in
:mod:`pylearn_lab.hashing.functions`.

Examples
--------
>>> __name__ = "__main__"
>>> TABLE = [1, 2]
>>> def f(x):
...     return TABLE[x]
>>> parts = local_parts(f)
>>> still_valid(f, parts)
True
"""

from __future__ import annotations

import functools
import gc
import linecache
import sys
import types
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UnhashableError
from .callables import is_hashable_callable, is_instance_callable
from .code import code_fingerprint
from .identity import FunctionIdentity, qualified_name, unwrap_component
from .imports import classify, imported_modules
from .untracked import is_untracked
from .versions import is_library_module, package_version

__all__ = ["IDENTITY", "LOCAL", "LocalParts", "Member", "describe_library", "has_source", "hash_part",
           "is_user_callable", "local_parts", "still_valid"]


@dataclass
class LocalParts:
    """What one user function or class contributes, and what to check to trust the memo."""

    parts: dict[str, str]
    refs: list[tuple[Any, str, Any]]  # (namespace, name, object seen)
    deps: list[Any]  # user functions / classes referenced
    checks: tuple[Any, ...]  # objects that must stay the same (code, defaults, cells)
    # (part name, value, what) of the mutable data the code reads (a global list, a default
    # dict, a class attribute array): re-hashed at every validation, since an in-place change
    # keeps the object's identity but changes what the code computes
    volatile: list[tuple[str, Any, str]] = field(default_factory=list)


LOCAL: weakref.WeakKeyDictionary[Any, LocalParts] = weakref.WeakKeyDictionary()
_MISSING = object()
# fn -> (its identity, (member, its LocalParts memo, its qualified name) for every user callable
# of its transitive closure). Members are weak references (the key itself is None), so the
# memo never keeps a function alive.
Member = tuple["weakref.ref[Any] | None", LocalParts, str]
IDENTITY: weakref.WeakKeyDictionary[Any, tuple[FunctionIdentity, tuple[Member, ...]]] = (
    weakref.WeakKeyDictionary())
# Attributes of a class body that do not change what its instances compute.
_CLASS_SKIP = frozenset({"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__",
                         "__annotations__", "__dataclass_fields__", "__dataclass_params__",
                         "__match_args__", "__firstlineno__", "__static_attributes__",
                         "__orig_bases__", "__parameters__", "_member_map_", "_value2member_map_",
                         "_member_names_", "_unhashable_values_", "_new_member_", "_value_repr_",
                         "__abstractmethods__", "_abc_impl", "__slotnames__",
                         "__protocol_attrs__", "_is_protocol", "_is_runtime_protocol",
                         "__non_callable_proto_members__", "__callable_proto_members_only__"})
# (``__slotnames__`` is added by copyreg the first time an instance is pickled, the
# protocol and abc attributes by typing/abc caches: none changes what the class runs.)


def is_user_callable(obj: Any) -> bool:
    obj = unwrap_component(obj)
    if isinstance(obj, (types.FunctionType, type)):
        return not is_library_module(getattr(obj, "__module__", None))
    return False


def _checks_of(obj: Any) -> tuple[Any, ...]:
    if isinstance(obj, types.FunctionType):
        cells = tuple(c.cell_contents if _cell_full(c) else _MISSING for c in obj.__closure__ or ())
        return (obj.__code__, obj.__defaults__, obj.__kwdefaults__, len(obj.__dict__), *cells)
    if isinstance(obj, type):
        return (len(vars(obj)), obj.__bases__)
    return ()


def _cell_full(cell: Any) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def still_valid(obj: Any, memo: LocalParts) -> bool:
    """True when ``_checks_of(obj)`` is item by item the memo's and every global seen is unchanged.

    Identity, not equality (``==`` on array defaults would be element-wise),
    written out without building tuples: it runs for every key of every node.
    """
    checks = memo.checks
    if isinstance(obj, types.FunctionType):
        closure = obj.__closure__ or ()
        if (len(checks) != 4 + len(closure) or checks[0] is not obj.__code__
                or checks[1] is not obj.__defaults__ or checks[2] is not obj.__kwdefaults__
                or checks[3] != len(obj.__dict__)):  # an attribute added (``f.k = 2``)
            return False
        for i, cell in enumerate(closure, 4):
            try:
                value = cell.cell_contents
            except ValueError:
                value = _MISSING
            if value is not checks[i]:
                return False
    elif isinstance(obj, type):
        if len(checks) != 2 or checks[0] != len(vars(obj)) or checks[1] is not obj.__bases__:
            return False
    elif checks:
        return False
    for ns, name, seen in memo.refs:
        if ns.get(name, _MISSING) is not seen:
            return False
    for part, value, what in memo.volatile:
        try:
            if hash_part(value, what) != memo.parts[part]:
                return False
        except UnhashableError:
            return False
    return True


# Values whose content cannot change while their identity stays: hashed once, memoised.
_FROZEN_ATOMS = frozenset({int, float, complex, str, bytes, bool, type(None), range,
                           type(Ellipsis)})


def _frozen(value: Any, depth: int = 0) -> bool:
    t = type(value)
    if t in _FROZEN_ATOMS:
        return True
    if t in (tuple, frozenset) and depth < 4:
        return all(_frozen(v, depth + 1) for v in value)
    return False


def _data_part(parts: dict[str, str], volatile: list[tuple[str, Any, str]], part: str,
               value: Any, what: str) -> None:
    """``parts[part]`` for a value the code reads (a closure cell, a global, a class
    attribute); a mutable value hashed by content is also re-checked at every validation."""
    if is_untracked(value):  # pl.untracked(): a log or counter the code writes to
        parts[part] = f"untracked:{type(value).__module__}.{type(value).__qualname__}"
    elif is_hashable_callable(value) and not is_instance_callable(value):
        if is_user_callable(value):
            parts[part] = _dep_label(value)
        elif _binds_values(value):
            # A partial, a bound method or a builtin bound to a value ('-'.join, d.get) counts
            # by what it binds and the code it calls, re-checked like other mutable data: by
            # qualified name alone, SCALE = partial(mul, 3) kept the key of partial(mul, 2).
            try:
                parts[part] = "callable:" + hash_part(value, what)
            except UnhashableError:
                t = type(value)
                parts[part] = f"unhashable:{t.__module__}.{t.__qualname__}"
                return
            volatile.append((part, value, what))
        else:
            parts[part] = describe_library(value)
    elif isinstance(value, types.ModuleType):
        parts[part] = f"module:{value.__name__}"
    else:
        try:
            parts[part] = hash_part(value, what)
        except UnhashableError:
            # An object we cannot hash (a connection, a lock) is counted by its type only;
            # pass it as an argument to have its content in the key.
            t = type(value)
            parts[part] = f"unhashable:{t.__module__}.{t.__qualname__}"
            return
        if not _frozen(value):
            volatile.append((part, value, what))


# Owners whose builtin methods are values ('-'.join, d.get, (2).__mul__, np.maximum.reduce).
# Other owners (the hidden random.Random behind ``random.random``, numpy's global RandomState
# behind ``np.random.rand``) stay keyed by name: keying by their changing state would make
# every call that draws a number a new key.
_VALUE_OWNERS = (str, bytes, bytearray, int, float, complex, tuple, list, dict, set, frozenset,
                 np.ufunc, np.ndarray, np.generic)


def _binds_values(value: Any) -> bool:
    """True for a callable whose behaviour depends on values it binds (not only its name)."""
    if isinstance(value, (functools.partial, types.MethodType)):
        return True
    if isinstance(value, (types.BuiltinMethodType, types.MethodWrapperType)):
        return isinstance(getattr(value, "__self__", None), _VALUE_OWNERS)
    if isinstance(value, np.ufunc):  # np.frompyfunc ufuncs: keyed by the function they wrap
        return any(callable(r) and not isinstance(r, type) for r in gc.get_referents(value))
    return False


def hash_part(value: Any, what: str) -> str:
    from .values import hash_value

    return hash_value(value, name=what)


def has_source(code: types.CodeType) -> bool:
    name = code.co_filename
    return bool(name) and (not name.startswith("<") or name in linecache.cache)


def local_parts(obj: Any) -> LocalParts:
    """Compute (or fetch the still-valid memo of) one user callable's own parts."""
    memo = LOCAL.get(obj)
    if memo is not None and still_valid(obj, memo):
        return memo
    parts: dict[str, str] = {}
    refs: list[tuple[Any, str, Any]] = []
    deps: list[Any] = []
    volatile: list[tuple[str, Any, str]] = []
    if isinstance(obj, type):
        _class_parts(obj, parts, refs, deps, volatile)
    else:
        label = qualified_name(obj)
        parts["code"] = code_fingerprint(obj.__code__)
        for part, defaults in (("defaults", obj.__defaults__), ("kwdefaults", obj.__kwdefaults__)):
            if defaults:
                parts[part] = hash_part(defaults, f"the defaults of {label}")
                if not _frozen(defaults if part == "defaults" else tuple(defaults.values())):
                    volatile.append((part, defaults, f"the defaults of {label}"))
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or ()):
            if not _cell_full(cell):
                continue
            value = cell.cell_contents
            if isinstance(value, types.ModuleType):  # pkg.sub.helper through a closure
                parts[f"closure:{name}"] = f"module:{value.__name__}"
                _scan_module(value, _all_names(obj.__code__), parts, refs, deps, volatile,
                             label, 0)
            elif is_user_callable(value):
                deps.append(unwrap_component(value))
                parts[f"closure:{name}"] = _dep_label(value)
            else:
                _data_part(parts, volatile, f"closure:{name}", value,
                           f"closure variable {name!r} of {label}")
        _scan_globals(obj, parts, refs, deps, volatile)
        _scan_imports(obj, parts, refs, deps, volatile)
        attrs = obj.__dict__
        for name in sorted(attrs):
            # Attributes set on the function (``helper.k = 3``, read as ``helper.k``) are data
            # the code reads: they travel with the function, so they count like its closure
            # (they were not part of any identity, and a changed one was served stale).
            value = attrs[name]
            if name == "__wrapped__":
                # the function a wrapper calls: often a closure cell too, but not always (a
                # functools.singledispatch function reaches its base only through here and
                # its registry, so a changed base body kept the key)
                if is_user_callable(value):
                    deps.append(unwrap_component(value))
                    parts["attr:__wrapped__"] = _dep_label(value)
                continue
            if name.startswith("__") and name.endswith("__"):
                continue  # __signature__, __qualname__ copies...: descriptive, not data
            refs.append((attrs, name, value))
            if is_user_callable(value):
                deps.append(unwrap_component(value))
                parts[f"attr:{name}"] = _dep_label(value)
            else:
                _data_part(parts, volatile, f"attr:{name}", value,
                           f"attribute {name!r} of function {label}")
    memo = LocalParts(parts, refs, deps, _checks_of(obj), volatile)
    try:
        LOCAL[obj] = memo
    except TypeError:  # not weak-referenceable: just do not memoise
        pass
    return memo


def _dep_label(value: Any) -> str:
    """How a referencing function names a user dependency: by qualified name.

    The dependency's own parts enter under ``function:<qualname>:`` (``#2``,
    ``#3`` for further dependencies sharing that name, in the deterministic
    order names are scanned), so which global names which same-named
    dependency still counts, and a changed helper shows as the helper's
    change, not also as the caller's.
    """
    return f"fn:{qualified_name(unwrap_component(value))}"


def _class_parts(cls: type, parts: dict[str, str], refs: list[Any], deps: list[Any],
                 volatile: list[tuple[str, Any, str]]) -> None:
    """A class by what its instances run: bases, methods (as deps) and other attributes."""
    ns = vars(cls)
    for i, base in enumerate(cls.__bases__):
        if is_user_callable(base):
            deps.append(base)
            parts[f"base:{i}"] = _dep_label(base)
        else:
            parts[f"base:{i}"] = describe_library(base)
    meta = type(cls)
    if meta is not type and is_user_callable(meta):
        # a user metaclass runs at instance creation (its __call__) and class attribute
        # lookups: its code counts like a base's (it was in no identity)
        deps.append(meta)
        parts["metaclass"] = _dep_label(meta)
    is_enum = any(b.__module__ == "enum" and b.__name__ == "Enum" for b in cls.__mro__)
    for name in sorted(ns):
        if name in _CLASS_SKIP:
            continue
        value = ns[name]
        refs.append((ns, name, value))
        funcs = _functions_in(value)
        if funcs is not None:
            labels = []
            for fn in funcs:
                if is_user_callable(fn):
                    deps.append(unwrap_component(fn))
                    labels.append(_dep_label(fn))
                elif _binds_values(fn):  # staticmethod(partial(mul, 2)): what it binds counts
                    try:
                        labels.append("callable:" + hash_part(fn, f"attribute {name!r} of "
                                                                f"class {cls.__qualname__}"))
                    except UnhashableError:
                        labels.append(f"unhashable:{type(fn).__qualname__}")
                else:
                    labels.append(describe_library(fn))
            parts[f"attr:{name}"] = f"{type(value).__name__}[{','.join(labels)}]"
        elif is_enum and type(value) is cls:
            parts[f"member:{name}"] = hash_part(getattr(value, "_value_", None),
                                                 f"the value of {cls.__qualname__}.{name}")
        elif isinstance(value, type) and value is not cls:
            parts[f"attr:{name}"] = (_dep_label(value) if is_user_callable(value)
                                     else describe_library(value))
            if is_user_callable(value):
                deps.append(value)
        elif isinstance(value, (types.MemberDescriptorType, types.GetSetDescriptorType)):
            # a __slots__ member: the slot's name is all it holds (its state is the instance's)
            parts[f"attr:{name}"] = f"slot:{type(value).__name__}:{value.__name__}"
        else:
            _data_part(parts, volatile, f"attr:{name}", value,
                       f"attribute {name!r} of class {cls.__qualname__}")


def _functions_in(value: Any) -> list[Any] | None:
    """The functions a class attribute runs (methods, static/class methods, properties)."""
    if (isinstance(value, (types.FunctionType, functools._lru_cache_wrapper))
            or hasattr(value, "__pylearn_component_fn__")):
        # a component stored as a class attribute is followed to its code like a method (it
        # used to be labelled by name only, so a redefined component kept the class's key)
        return [unwrap_component(value)]
    if isinstance(value, (staticmethod, classmethod)):
        return [unwrap_component(value.__func__)]
    if isinstance(value, property):
        return [f for f in (value.fget, value.fset, value.fdel) if f is not None]
    if isinstance(value, functools.cached_property):
        return [value.func]
    return None


def describe_library(value: Any) -> str:
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}:{package_version(value.__name__)}"
    value = unwrap_component(value)
    mod = getattr(value, "__module__", None)
    if not isinstance(mod, str):
        mod = type(value).__module__
    return f"lib:{package_version(mod)}:{qualified_name(value)}"


def _scan_globals(fn: types.FunctionType, parts: dict[str, str], refs: list[Any], deps: list[Any],
                  volatile: list[tuple[str, Any, str]]) -> None:
    ns = fn.__globals__
    label = qualified_name(fn)
    names = _all_names(fn.__code__)
    for name in sorted(names):
        value = ns.get(name, _MISSING)
        refs.append((ns, name, value))
        if value is _MISSING:
            # a builtin, an attribute name, or not defined yet -- recorded as missing all the
            # same: a global defined later under that name (``def abs(x): ...`` in a notebook
            # cell) shadows the builtin the memoised identity described, so it must invalidate
            continue
        if isinstance(value, types.ModuleType):
            _scan_module(value, names, parts, refs, deps, volatile, label, 0)
        elif is_user_callable(value):
            if unwrap_component(value) is not fn:
                deps.append(unwrap_component(value))
            parts[f"global:{name}"] = _dep_label(value)
        else:
            _data_part(parts, volatile, f"global:{name}", value, f"global {name!r} read by {label}")
            if is_instance_callable(value) and is_user_callable(type(value)):
                deps.append(type(value))


def _scan_module(mod: types.ModuleType, names: set[str], parts: dict[str, str], refs: list[Any],
                 deps: list[Any], volatile: list[tuple[str, Any, str]], label: str,
                 depth: int) -> None:
    """Follow attribute chains into a user module (``pkg.sub.helper``), a few levels deep."""
    if is_library_module(mod.__name__):
        parts[f"module:{mod.__name__}"] = describe_library(mod)
        return
    if depth > 4:
        return
    for attr in sorted(names):
        sub = getattr(mod, attr, _MISSING)
        refs.append((vars(mod), attr, sub))  # missing too: an attribute added later counts
        if sub is _MISSING:
            continue
        key = f"global:{mod.__name__}.{attr}"
        if isinstance(sub, types.ModuleType):
            _scan_module(sub, names, parts, refs, deps, volatile, label, depth + 1)
        elif is_user_callable(sub):
            deps.append(unwrap_component(sub))
            parts[key] = _dep_label(sub)
        else:
            _data_part(parts, volatile, key, sub, f"global {mod.__name__}.{attr} read by {label}")


def _scan_imports(fn: types.FunctionType, parts: dict[str, str], refs: list[Any], deps: list[Any],
                  volatile: list[tuple[str, Any, str]]) -> None:
    """Modules imported inside the body (``import helpers``): followed like global modules.

    They bind local names, so :func:`_scan_globals` never sees them; a helper
    imported so was in no identity (see :mod:`~pylearn_lab.hashing.imports`).
    """
    label = qualified_name(fn)
    names = _all_names(fn.__code__)
    for name in imported_modules(fn.__code__, fn.__globals__.get("__package__")):
        kind = classify(name)
        if kind == "library":  # by version, the same whether or not it is imported yet
            parts[f"import:{name}"] = f"lib:{package_version(name)}"
            continue
        mod = sys.modules.get(name) if kind == "user" else None
        refs.append((sys.modules, name, _MISSING if mod is None else mod))
        if mod is None:
            parts[f"import:{name}"] = "missing"  # not importable here: by name only
            continue
        parts[f"import:{name}"] = f"module:{name}"
        _scan_module(mod, names, parts, refs, deps, volatile, label, 0)
        top = sys.modules.get(name.split(".")[0])
        if top is not None and top is not mod:  # import pkg.sub; pkg.sub.helper(...)
            _scan_module(top, names, parts, refs, deps, volatile, label, 0)


def _all_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _all_names(const)
    return names
