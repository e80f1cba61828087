"""Function identity: what a function *is*, for the purpose of cache keys.

A user function is identified by its module and qualified name, the live
bytecode it runs (:mod:`pylearn_lab.hashing.code`: comments, formatting and
docstrings do not count, a file edited on disk after import cannot mislead
it), its default values, its closure values, the module constants it reads
and, transitively, the same for every user function or class it references
-- also through attribute chains (``pkg.sub.helper``), ``functools.wraps``
wrappers (the wrapper's own body counts) and ``lru_cache`` wrappers (followed
to the function they wrap). A user class counts by its bases, its methods
(with what they reference) and its other attributes. Library functions
(stdlib, site-packages) count by package name and version; a library callable
bound to an object (``'-'.join``, ``d.get``, ``np.maximum.reduce``,
``(2).__mul__``) counts with that object. A callable instance counts by its
class and its state. ``version=`` replaces the code-based part by a label the
user controls.

The result is a :class:`FunctionIdentity` whose ``parts`` name what went into
the digest, so that a cache miss can be explained part by part
(:func:`pylearn_lab.experiments.why`).

Identities are memoised per function object and re-validated on every use by
identity checks (``is``) on the code, defaults, closure cells, attributes and
referenced globals (names not defined yet too: a global defined later shadows a
builtin), so redefining a helper in a notebook invalidates its callers at once;
mutable data the code reads is re-hashed by content at every validation.

Examples
--------
>>> __name__ = "__main__"  # examples run as a notebook's code does
>>> def f(x):
...     return x + 1
>>> function_identity(f).digest == function_identity(f).digest
True
>>> function_identity(f).kind in ("source", "code")  # "code" where no source file exists
True
>>> function_identity("-".join) == function_identity("+".join)
False
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
from .digest import new_digest
from .imports import classify, imported_modules
from .untracked import is_untracked
from .versions import is_library_module, package_version

__all__ = [
    "FunctionIdentity",
    "feed_callable",
    "function_identity",
    "is_hashable_callable",
    "is_library_module",
    "qualified_name",
    "unwrap_component",
]


@dataclass(frozen=True)
class FunctionIdentity:
    """The identity of a callable.

    Attributes
    ----------
    digest : str
        Hex digest used in node keys.
    name : str
        ``module.qualname``.
    kind : str
        ``"source"`` (user code whose source is on file), ``"code"`` (user code
        without source: exec'd, rebuilt by cloudpickle), ``"library"`` (by
        package version), ``"version"`` (user label), ``"instance"`` (a
        callable object: its class and state). ``"source"`` and ``"code"`` give
        the same digest for the same code.
    parts : dict
        What went into the digest, e.g. ``{"code": ..., "function:m.helper:code": ...}``.
    """

    digest: str
    name: str
    kind: str
    parts: dict[str, str] = field(default_factory=dict)


def qualified_name(obj: Any) -> str:
    """``module.qualname`` of a callable (``__main__.f`` for notebook functions)."""
    if type(obj) is types.FunctionType and "__pylearn_component_fn__" not in obj.__dict__:
        fmod, fqual = obj.__module__, obj.__qualname__  # the common case, every key pays it
        if type(fmod) is str and fmod and fqual:
            return f"{fmod}.{fqual}"
    obj = unwrap_component(obj)
    mod = getattr(obj, "__module__", None) or type(obj).__module__
    qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(qual, str):
        qual = type(obj).__qualname__
    if not isinstance(mod, str):
        mod = type(obj).__module__
    return f"{mod}.{qual}"


def unwrap_component(obj: Any) -> Any:
    """The plain function behind a component or an ``lru_cache``/``cache`` wrapper.

    Examples
    --------
    >>> import functools
    >>> @functools.lru_cache
    ... def h(x):
    ...     return x
    >>> unwrap_component(h) is h.__wrapped__
    True
    """
    inner = getattr(obj, "__pylearn_component_fn__", None)
    if inner is None and type(obj) is not functools._lru_cache_wrapper:
        return obj  # the common case: a plain function
    for _ in range(32):  # a chain of wrappers, never a cycle
        inner = getattr(obj, "__pylearn_component_fn__", None)
        if inner is None and isinstance(obj, functools._lru_cache_wrapper):
            inner = obj.__wrapped__
        if inner is None or inner is obj:
            return obj
        obj = inner
    return obj


# --------------------------------------------------------------------------- local parts


@dataclass
class _Local:
    """What one user function or class contributes, and what to check to trust the memo."""

    parts: dict[str, str]
    refs: list[tuple[Any, str, Any]]  # (namespace, name, object seen)
    deps: list[Any]  # user functions / classes referenced
    checks: tuple[Any, ...]  # objects that must stay the same (code, defaults, cells)
    # (part name, value, what) of the mutable data the code reads (a global list, a default
    # dict, a class attribute array): re-hashed at every validation, since an in-place change
    # keeps the object's identity but changes what the code computes
    volatile: list[tuple[str, Any, str]] = field(default_factory=list)


_LOCAL: weakref.WeakKeyDictionary[Any, _Local] = weakref.WeakKeyDictionary()
_MISSING = object()
# fn -> (its identity, (member, its _Local memo, its qualified name) for every user callable
# of its transitive closure). Members are weak references (the key itself is None), so the
# memo never keeps a function alive.
_Member = tuple["weakref.ref[Any] | None", _Local, str]
_IDENTITY: weakref.WeakKeyDictionary[Any, tuple[FunctionIdentity, tuple[_Member, ...]]] = (
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


def _is_user_callable(obj: Any) -> bool:
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


def _still_valid(obj: Any, memo: _Local) -> bool:
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
            if _hash_part(value, what) != memo.parts[part]:
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
        if _is_user_callable(value):
            parts[part] = _dep_label(value)
        elif _binds_values(value):
            # A partial, a bound method or a builtin bound to a value ('-'.join, d.get) counts
            # by what it binds and the code it calls, re-checked like other mutable data: by
            # qualified name alone, SCALE = partial(mul, 3) kept the key of partial(mul, 2).
            try:
                parts[part] = "callable:" + _hash_part(value, what)
            except UnhashableError:
                t = type(value)
                parts[part] = f"unhashable:{t.__module__}.{t.__qualname__}"
                return
            volatile.append((part, value, what))
        else:
            parts[part] = _describe_library(value)
    elif isinstance(value, types.ModuleType):
        parts[part] = f"module:{value.__name__}"
    else:
        try:
            parts[part] = _hash_part(value, what)
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


def _hash_part(value: Any, what: str) -> str:
    from .values import hash_value

    return hash_value(value, name=what)


def _has_source(code: types.CodeType) -> bool:
    name = code.co_filename
    return bool(name) and (not name.startswith("<") or name in linecache.cache)


def _local(obj: Any) -> _Local:
    """Compute (or fetch the still-valid memo of) one user callable's own parts."""
    memo = _LOCAL.get(obj)
    if memo is not None and _still_valid(obj, memo):
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
                parts[part] = _hash_part(defaults, f"the defaults of {label}")
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
            elif _is_user_callable(value):
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
                if _is_user_callable(value):
                    deps.append(unwrap_component(value))
                    parts["attr:__wrapped__"] = _dep_label(value)
                continue
            if name.startswith("__") and name.endswith("__"):
                continue  # __signature__, __qualname__ copies...: descriptive, not data
            refs.append((attrs, name, value))
            if _is_user_callable(value):
                deps.append(unwrap_component(value))
                parts[f"attr:{name}"] = _dep_label(value)
            else:
                _data_part(parts, volatile, f"attr:{name}", value,
                           f"attribute {name!r} of function {label}")
    memo = _Local(parts, refs, deps, _checks_of(obj), volatile)
    try:
        _LOCAL[obj] = memo
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
        if _is_user_callable(base):
            deps.append(base)
            parts[f"base:{i}"] = _dep_label(base)
        else:
            parts[f"base:{i}"] = _describe_library(base)
    meta = type(cls)
    if meta is not type and _is_user_callable(meta):
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
                if _is_user_callable(fn):
                    deps.append(unwrap_component(fn))
                    labels.append(_dep_label(fn))
                elif _binds_values(fn):  # staticmethod(partial(mul, 2)): what it binds counts
                    try:
                        labels.append("callable:" + _hash_part(fn, f"attribute {name!r} of "
                                                                f"class {cls.__qualname__}"))
                    except UnhashableError:
                        labels.append(f"unhashable:{type(fn).__qualname__}")
                else:
                    labels.append(_describe_library(fn))
            parts[f"attr:{name}"] = f"{type(value).__name__}[{','.join(labels)}]"
        elif is_enum and type(value) is cls:
            parts[f"member:{name}"] = _hash_part(getattr(value, "_value_", None),
                                                 f"the value of {cls.__qualname__}.{name}")
        elif isinstance(value, type) and value is not cls:
            parts[f"attr:{name}"] = (_dep_label(value) if _is_user_callable(value)
                                     else _describe_library(value))
            if _is_user_callable(value):
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


def _describe_library(value: Any) -> str:
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
        elif _is_user_callable(value):
            if unwrap_component(value) is not fn:
                deps.append(unwrap_component(value))
            parts[f"global:{name}"] = _dep_label(value)
        else:
            _data_part(parts, volatile, f"global:{name}", value, f"global {name!r} read by {label}")
            if is_instance_callable(value) and _is_user_callable(type(value)):
                deps.append(type(value))


def _scan_module(mod: types.ModuleType, names: set[str], parts: dict[str, str], refs: list[Any],
                 deps: list[Any], volatile: list[tuple[str, Any, str]], label: str,
                 depth: int) -> None:
    """Follow attribute chains into a user module (``pkg.sub.helper``), a few levels deep."""
    if is_library_module(mod.__name__):
        parts[f"module:{mod.__name__}"] = _describe_library(mod)
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
        elif _is_user_callable(sub):
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


# --------------------------------------------------------------------------- public


def function_identity(fn: Any, version: str | None = None) -> FunctionIdentity:
    """Return the identity of ``fn`` (see the module docstring for what counts).

    Parameters
    ----------
    fn : callable
        A function, component, class, ``functools.partial``, bound method,
        builtin, ufunc or callable instance.
    version : str, optional
        A user label that replaces the code-based part: the key changes when
        the label does, and only then.

    Raises
    ------
    UnhashableError
        When a bound object or a callable instance's state has no canonical hash.

    Examples
    --------
    >>> import math
    >>> function_identity(math.sqrt).kind
    'library'
    >>> def g(x):
    ...     return x
    >>> function_identity(g, version="2").kind
    'version'
    """
    fn = unwrap_component(fn)
    if version is None:
        known = _memoised(fn)
        if known is not None:
            return known
    name = qualified_name(fn)
    if version is not None:
        return _finish(name, "version", {"version": str(version)})
    if isinstance(fn, functools.partial):
        inner = function_identity(fn.func)
        bound = {"partial.func": inner.digest,
                 "partial.args": _hash_part(fn.args, f"the arguments bound by partial({name})"),
                 "partial.kwargs": _hash_part(fn.keywords, f"the keywords bound by partial({name})")}
        return _finish(name, inner.kind, bound)
    if isinstance(fn, types.MethodType):
        inner = function_identity(fn.__func__)
        method = {"method.func": inner.digest,
                  "method.self": _hash_part(fn.__self__, f"the object of bound method {name}")}
        return _finish(name, inner.kind, method)
    if isinstance(fn, np.ufunc):
        return _ufunc_identity(fn, name)
    if isinstance(fn, (types.BuiltinMethodType, types.MethodWrapperType)):
        owner = getattr(fn, "__self__", None)
        if owner is not None and not isinstance(owner, types.ModuleType):
            # '-'.join vs '+'.join, d1.get vs d2.get, (2).__mul__ vs (3).__mul__
            tname = f"{type(owner).__module__}.{type(owner).__qualname__}.{fn.__name__}"
            return _finish(tname, "library", {
                "library": _describe_library(type(owner)) + f".{fn.__name__}",
                "method.self": _hash_part(owner, f"the object {fn.__name__} is bound to")})
    if is_instance_callable(fn):
        return _instance_identity(fn, name)
    if not _is_user_callable(fn):
        return _finish(name, "library", {"library": _describe_library(fn)})
    return _user_identity(fn, name)


def _ufunc_identity(fn: np.ufunc, name: str) -> FunctionIdentity:
    parts = {"library": f"lib:{package_version('numpy')}:numpy.{fn.__name__}"}
    # np.frompyfunc ufuncs hold the Python function they vectorise; key them by it.
    wrapped = [r for r in gc.get_referents(fn) if callable(r) and not isinstance(r, type)]
    if wrapped:
        parts["wraps"] = function_identity(wrapped[0]).digest
        parts["signature"] = f"{fn.nin}->{fn.nout}"
    return _finish(name, "library", parts)


def _instance_identity(fn: Any, name: str) -> FunctionIdentity:
    """A callable object: its class (code, methods, transitively) and its state."""
    from .values import hash_value

    cls_ident = function_identity(type(fn))
    parts = {"class": cls_ident.digest, "state": hash_value(fn, name=f"the callable {name}")}
    return _finish(name, "instance", parts)


def _user_identity(fn: Any, name: str) -> FunctionIdentity:
    # Transitive closure over referenced user callables, order-independent and cycle-safe.
    parts: dict[str, str] = {}
    kind = "source"
    seen: dict[int, Any] = {}
    members: list[_Member] = []
    same_name: dict[str, list[dict[str, str]]] = {}
    stack = [fn]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj
        local = _local(obj)
        qual = qualified_name(obj)
        if obj is fn:
            prefix = ""
            if isinstance(obj, types.FunctionType) and not _has_source(obj.__code__):
                kind = "code"
        else:
            # Dependencies that share a qualified name (two lambdas, two closures of one
            # factory) each contribute under their own prefix, in traversal order -- unless
            # they are copies with equal parts (cloudpickle, unpickling a by-value function,
            # rebinds the module global to a copy of the very same code): those add nothing.
            twins = same_name.setdefault(qual, [])
            if any(p == local.parts for p in twins):
                stack.extend(reversed(local.deps))
                members.append((_weak(obj), local, qual))
                continue
            twins.append(local.parts)
            n = len(twins) - 1
            prefix = f"function:{qual}:" if n == 0 else f"function:{qual}#{n + 1}:"
        for k, v in local.parts.items():
            parts[prefix + k] = v
        stack.extend(reversed(local.deps))
        members.append((None if obj is fn else _weak(obj), local, qual))
    ident = _finish(name, kind, parts)
    if all(m[0] is not _NO_REF for m in members):
        try:
            _IDENTITY[fn] = (ident, tuple(members))
        except TypeError:  # not weak-referenceable: just do not memoise
            pass
    return ident


_NO_REF: Any = object()
_IDENTITY_DATA: dict[Any, Any] = _IDENTITY.data  # type: ignore[attr-defined]  # its dict


def _weak(obj: Any) -> Any:
    try:
        return weakref.ref(obj)
    except TypeError:
        return _NO_REF


def _memoised(fn: Any) -> FunctionIdentity | None:
    """The memoised identity of a user callable, when nothing that went into it changed.

    Valid when every member of its transitive closure still has the very same
    local memo (:func:`_local` re-validates code, defaults, closure cells and
    the globals it read) and the same qualified name: then the traversal and
    the digest would come out the same, so they are skipped.
    """
    try:
        # WeakKeyDictionary.get without its Python frame (every key pays this probe)
        entry = _IDENTITY_DATA.get(weakref.ref(fn))
    except TypeError:  # an unhashable or not weak-referenceable callable object
        return None
    if entry is None:
        return None
    ident, members = entry
    for ref, memo, qual in members:
        obj = fn if ref is None else ref()
        # The member's own memo re-validated in place (what _local would check before
        # returning it): when its code, defaults, cells and globals are the very objects it
        # was built from, its parts are what a recomputation gives, whichever memo _LOCAL
        # holds for it now.
        if obj is None or not _still_valid(obj, memo) or qualified_name(obj) != qual:
            return None
    return ident


def _finish(name: str, kind: str, parts: dict[str, str]) -> FunctionIdentity:
    d = new_digest()
    # "source" and "code" are one kind for the digest: the same code has one identity
    # whether or not its source file can be found.
    d.update(f"{'code' if kind == 'source' else kind}\0{name}\0".encode("utf-8", "surrogatepass"))
    for k in sorted(parts):
        d.update(f"{k}\0{parts[k]}\0".encode("utf-8", "surrogatepass"))
    return FunctionIdentity(d.hexdigest(), name, kind, parts)


def feed_callable(d: Any, obj: Any, path: str) -> None:
    """Feed a callable value (a higher-order argument) by its identity."""
    d.update(b"@" + function_identity(obj).digest.encode())
