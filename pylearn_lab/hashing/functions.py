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
import types
import weakref
from typing import Any

import numpy as np

from .callables import is_hashable_callable, is_instance_callable
from .digest import new_digest
from .identity import FunctionIdentity, qualified_name, unwrap_component
from .reads import (
    IDENTITY,
    Member,
    describe_library,
    has_source,
    hash_part,
    is_user_callable,
    local_parts,
    still_valid,
)
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
                 "partial.args": hash_part(fn.args, f"the arguments bound by partial({name})"),
                 "partial.kwargs": hash_part(fn.keywords, f"the keywords bound by partial({name})")}
        return _finish(name, inner.kind, bound)
    if isinstance(fn, types.MethodType):
        inner = function_identity(fn.__func__)
        method = {"method.func": inner.digest,
                  "method.self": hash_part(fn.__self__, f"the object of bound method {name}")}
        return _finish(name, inner.kind, method)
    if isinstance(fn, np.ufunc):
        return _ufunc_identity(fn, name)
    if isinstance(fn, (types.BuiltinMethodType, types.MethodWrapperType)):
        owner = getattr(fn, "__self__", None)
        if owner is not None and not isinstance(owner, types.ModuleType):
            # '-'.join vs '+'.join, d1.get vs d2.get, (2).__mul__ vs (3).__mul__
            tname = f"{type(owner).__module__}.{type(owner).__qualname__}.{fn.__name__}"
            return _finish(tname, "library", {
                "library": describe_library(type(owner)) + f".{fn.__name__}",
                "method.self": hash_part(owner, f"the object {fn.__name__} is bound to")})
    if is_instance_callable(fn):
        return _instance_identity(fn, name)
    if not is_user_callable(fn):
        return _finish(name, "library", {"library": describe_library(fn)})
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
    members: list[Member] = []
    same_name: dict[str, list[dict[str, str]]] = {}
    stack = [fn]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj
        local = local_parts(obj)
        qual = qualified_name(obj)
        if obj is fn:
            prefix = ""
            if isinstance(obj, types.FunctionType) and not has_source(obj.__code__):
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
            IDENTITY[fn] = (ident, tuple(members))
        except TypeError:  # not weak-referenceable: just do not memoise
            pass
    return ident


_NO_REF: Any = object()
_IDENTITY_DATA: dict[Any, Any] = IDENTITY.data  # type: ignore[attr-defined]  # its dict


def _weak(obj: Any) -> Any:
    try:
        return weakref.ref(obj)
    except TypeError:
        return _NO_REF


def _memoised(fn: Any) -> FunctionIdentity | None:
    """The memoised identity of a user callable, when nothing that went into it changed.

    Valid when every member of its transitive closure still has the very same
    local memo (:func:`local_parts` re-validates code, defaults, closure cells and
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
        # The member's own memo re-validated in place (what local_parts would check before
        # returning it): when its code, defaults, cells and globals are the very objects it
        # was built from, its parts are what a recomputation gives, whichever memo LOCAL
        # holds for it now.
        if obj is None or not still_valid(obj, memo) or qualified_name(obj) != qual:
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
