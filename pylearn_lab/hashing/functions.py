"""Function identity: what a function *is*, for the purpose of cache keys.

A user function is identified by its module, qualified name, its source
normalised through the AST (docstrings, comments, blank lines and formatting
do not count), its default values, its closure values, the module constants
it reads and, transitively, the same for every user function or class it
references. Library functions (stdlib, site-packages) count by package name
and version only: their code changes when the package does. ``version=``
replaces the source-based part by a label the user controls.

The result is a :class:`FunctionIdentity` whose ``parts`` name what went into
the digest, so that a cache miss can be explained part by part
(:func:`pylearn_lab.experiments.why`).

Identities are memoised per function object and re-validated on every use by
identity checks (``is``) on the code, defaults, closure cells and referenced
globals, so redefining a helper in a notebook invalidates its callers at once.
In-place mutation of a mutable module-level constant is not detected; pass
such data as an argument instead.

Examples
--------
>>> def f(x):
...     return x + 1
>>> function_identity(f).digest == function_identity(f).digest
True
>>> function_identity(f).kind
'source'
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import inspect
import linecache
import os
import sys
import sysconfig
import textwrap
import types
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UnhashableError
from .digest import new_digest

__all__ = [
    "FunctionIdentity",
    "function_identity",
    "feed_callable",
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
        ``"source"`` (user code), ``"code"`` (user code without source),
        ``"library"`` (by package version), ``"version"`` (user label).
    parts : dict
        What went into the digest, e.g. ``{"source": ..., "function:m.helper": ...}``.
    """

    digest: str
    name: str
    kind: str
    parts: dict[str, str] = field(default_factory=dict)


def qualified_name(obj: Any) -> str:
    """``module.qualname`` of a callable (``__main__.f`` for notebook functions)."""
    obj = unwrap_component(obj)
    mod = getattr(obj, "__module__", None) or type(obj).__module__
    qual = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if qual is None:
        qual = type(obj).__qualname__
    return f"{mod}.{qual}"


def unwrap_component(obj: Any) -> Any:
    """The plain function behind a :func:`~pylearn_lab.component` (or ``obj`` itself)."""
    return getattr(obj, "__pylearn_component_fn__", obj)


# --------------------------------------------------------------------------- library test

_LIB_ROOTS: tuple[str, ...] = tuple(
    sorted(
        {
            os.path.realpath(p)
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if (p := sysconfig.get_paths().get(key))
        }
    )
)
_LIB_CACHE: dict[str, bool] = {}


def is_library_module(module: str | None) -> bool:
    """True when ``module`` is installed code (stdlib or site-packages), not user code.

    Examples
    --------
    >>> is_library_module("os"), is_library_module("__main__")
    (True, False)
    """
    if not module or module == "__main__":
        return False
    hit = _LIB_CACHE.get(module)
    if hit is not None:
        return hit
    mod = sys.modules.get(module)
    path = getattr(mod, "__file__", None) if mod is not None else None
    if mod is None:
        result = False
    elif path is None:
        result = module in sys.builtin_module_names or module.split(".")[0] in sys.builtin_module_names
    else:
        real = os.path.realpath(path)
        result = any(real.startswith(root + os.sep) for root in _LIB_ROOTS)
    _LIB_CACHE[module] = result
    return result


@functools.lru_cache(maxsize=None)
def _package_version(module: str) -> str:
    top = module.split(".")[0]
    if top in sys.builtin_module_names or top in getattr(sys, "stdlib_module_names", ()):
        return f"python=={sys.version_info.major}.{sys.version_info.minor}"
    try:
        dists = importlib.metadata.packages_distributions().get(top, [top])
        return f"{dists[0]}=={importlib.metadata.version(dists[0])}"
    except importlib.metadata.PackageNotFoundError:
        version = getattr(sys.modules.get(top), "__version__", "unknown")
        return f"{top}=={version}"


# --------------------------------------------------------------------------- source


class _StripDocstrings(ast.NodeTransformer):
    def _strip(self, node: Any) -> Any:
        self.generic_visit(node)
        body = node.body
        first = body[0] if body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
            first.value.value, str
        ):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _strip


def _normalised_source(obj: Any) -> str | None:
    """AST dump of ``obj``'s definition without decorators or docstrings, or None."""
    try:
        filename = inspect.getsourcefile(obj) or inspect.getfile(obj)
        if filename and not filename.startswith("<"):
            linecache.checkcache(filename)  # a file edited on disk must not serve stale source
        src = textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return None
    wanted = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    node: ast.AST | None = None
    if getattr(obj, "__name__", None) == "<lambda>":
        lambdas = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)]
        node = lambdas[0] if len(lambdas) == 1 else None
    else:
        for n in tree.body:
            if isinstance(n, wanted) and n.name == getattr(obj, "__name__", None):
                node = n
                break
    if node is None:
        return None
    if isinstance(node, wanted):
        node.decorator_list = []
    node = _StripDocstrings().visit(node)
    return ast.dump(node, annotate_fields=False, include_attributes=False)


def _code_fingerprint(code: types.CodeType, d: Any) -> None:
    """Feed a code object without line numbers (fallback when no source exists)."""
    d.update(code.co_code)
    d.update(repr((code.co_names, code.co_varnames, code.co_argcount,
                   code.co_kwonlyargcount, code.co_flags)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_fingerprint(const, d)
        elif isinstance(const, str) and const is code.co_consts[0]:
            continue  # a docstring does not change behaviour
        else:
            d.update(repr(const).encode())


def _all_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _all_names(const)
    return names


# --------------------------------------------------------------------------- local parts


@dataclass
class _Local:
    """What one user function contributes, and what to check to trust the memo."""

    parts: dict[str, str]
    refs: list[tuple[dict[str, Any], str, Any]]  # (namespace, name, object seen)
    deps: list[Any]  # user functions / classes referenced
    checks: tuple[Any, ...]  # objects that must stay the same (code, defaults, cells)


_LOCAL: "weakref.WeakKeyDictionary[Any, _Local]" = weakref.WeakKeyDictionary()
_MISSING = object()
# fn -> (its identity, (member, its _Local memo, its qualified name) for every user callable
# of its transitive closure). Members are weak references (the key itself is None), so the
# memo never keeps a function alive.
_Member = tuple["weakref.ref[Any] | None", _Local, str]
_IDENTITY: "weakref.WeakKeyDictionary[Any, tuple[FunctionIdentity, tuple[_Member, ...]]]" = (
    weakref.WeakKeyDictionary())


def _is_user_callable(obj: Any) -> bool:
    obj = unwrap_component(obj)
    if isinstance(obj, (types.FunctionType, type)):
        return not is_library_module(getattr(obj, "__module__", None))
    return False


def _checks_of(obj: Any) -> tuple[Any, ...]:
    if isinstance(obj, types.FunctionType):
        cells = tuple(c.cell_contents if _cell_full(c) else _MISSING for c in obj.__closure__ or ())
        return (obj.__code__, obj.__defaults__, obj.__kwdefaults__, *cells)
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
        if (len(checks) != 3 + len(closure) or checks[0] is not obj.__code__
                or checks[1] is not obj.__defaults__ or checks[2] is not obj.__kwdefaults__):
            return False
        for i, cell in enumerate(closure, 3):
            try:
                value = cell.cell_contents
            except ValueError:
                value = _MISSING
            if value is not checks[i]:
                return False
    elif checks:
        return False
    for ns, name, seen in memo.refs:
        if ns.get(name, _MISSING) is not seen:
            return False
    return True


def _hash_part(value: Any, what: str) -> str:
    from .values import hash_value

    return hash_value(value, name=what)


def _local(obj: Any) -> _Local:
    """Compute (or fetch the still-valid memo of) one user callable's own parts."""
    memo = _LOCAL.get(obj)
    if memo is not None and _still_valid(obj, memo):
        return memo
    parts: dict[str, str] = {}
    refs: list[tuple[dict[str, Any], str, Any]] = []
    deps: list[Any] = []
    src = _normalised_source(obj)
    if src is not None:
        parts["source"] = _hash_part(src, "source")
    elif isinstance(obj, types.FunctionType):
        d = new_digest()
        _code_fingerprint(obj.__code__, d)
        parts["code"] = d.hexdigest()
    else:
        parts["source"] = "unavailable"
    if isinstance(obj, types.FunctionType):
        label = qualified_name(obj)
        if obj.__defaults__:
            parts["defaults"] = _hash_part(obj.__defaults__, f"the defaults of {label}")
        if obj.__kwdefaults__:
            parts["kwdefaults"] = _hash_part(obj.__kwdefaults__, f"the defaults of {label}")
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or ()):
            if not _cell_full(cell):
                continue
            value = cell.cell_contents
            if _is_user_callable(value):
                deps.append(unwrap_component(value))
            else:
                parts[f"closure:{name}"] = _closure_or_global_part(value, f"closure variable {name!r} of {label}")
        _scan_globals(obj, parts, refs, deps)
    memo = _Local(parts, refs, deps, _checks_of(obj))
    try:
        _LOCAL[obj] = memo
    except TypeError:  # not weak-referenceable: just do not memoise
        pass
    return memo


def _closure_or_global_part(value: Any, what: str) -> str:
    if is_hashable_callable(value) or isinstance(value, types.ModuleType):
        return _describe_library(value)
    try:
        return _hash_part(value, what)
    except UnhashableError:
        # An object we cannot hash (a model, a connection) is counted by its type only;
        # pass it as an argument to have its content in the key.
        t = type(value)
        return f"unhashable:{t.__module__}.{t.__qualname__}"


def _describe_library(value: Any) -> str:
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}"
    value = unwrap_component(value)
    mod = getattr(value, "__module__", None) or type(value).__module__
    return f"lib:{_package_version(mod)}:{qualified_name(value)}"


def _scan_globals(fn: types.FunctionType, parts: dict[str, str], refs: list[Any], deps: list[Any]) -> None:
    ns = fn.__globals__
    label = qualified_name(fn)
    names = _all_names(fn.__code__)
    for name in sorted(names):
        value = ns.get(name, _MISSING)
        if value is _MISSING:
            continue  # a builtin, an attribute name, or not defined yet
        refs.append((ns, name, value))
        if isinstance(value, types.ModuleType):
            if is_library_module(value.__name__):
                continue
            for attr in sorted(names):
                sub = getattr(value, attr, _MISSING)
                if sub is _MISSING or isinstance(sub, types.ModuleType):
                    continue
                refs.append((vars(value), attr, sub))
                if _is_user_callable(sub):
                    deps.append(unwrap_component(sub))
                elif not callable(sub):
                    parts[f"global:{value.__name__}.{attr}"] = _closure_or_global_part(
                        sub, f"global {value.__name__}.{attr} read by {label}")
        elif _is_user_callable(value):
            if unwrap_component(value) is not fn:
                deps.append(unwrap_component(value))
        elif is_hashable_callable(value) or isinstance(value, type):
            parts[f"global:{name}"] = _describe_library(value)
        else:
            parts[f"global:{name}"] = _closure_or_global_part(value, f"global {name!r} read by {label}")


# --------------------------------------------------------------------------- public


def function_identity(fn: Any, version: str | None = None) -> FunctionIdentity:
    """Return the identity of ``fn`` (see the module docstring for what counts).

    Parameters
    ----------
    fn : callable
        A function, component, class, ``functools.partial``, bound method or builtin.
    version : str, optional
        A user label that replaces the source-based part: the key changes when
        the label does, and only then.

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
    if not _is_user_callable(fn):
        return _finish(name, "library", {"library": _describe_library(fn)})
    # Transitive closure over referenced user callables, order-independent and cycle-safe.
    parts: dict[str, str] = {}
    kind = "source"
    seen: dict[int, Any] = {}
    members: list[_Member] = []
    stack = [fn]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = obj
        local = _local(obj)
        qual = qualified_name(obj)
        prefix = "" if obj is fn else f"function:{qual}:"
        if obj is fn and "code" in local.parts:
            kind = "code"
        for k, v in local.parts.items():
            parts[prefix + k] = v
        stack.extend(local.deps)
        members.append((None if obj is fn else _weak(obj), local, qual))
    ident = _finish(name, kind, parts)
    if all(m[0] is not _NO_REF for m in members):
        try:
            _IDENTITY[fn] = (ident, tuple(members))
        except TypeError:  # not weak-referenceable: just do not memoise
            pass
    return ident


_NO_REF: Any = object()


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
        entry = _IDENTITY.get(fn)
    except TypeError:  # an unhashable callable object
        return None
    if entry is None:
        return None
    ident, members = entry
    for ref, memo, qual in members:
        obj = fn if ref is None else ref()
        if obj is None or _local(obj) is not memo or qualified_name(obj) != qual:
            return None
    return ident


def _finish(name: str, kind: str, parts: dict[str, str]) -> FunctionIdentity:
    d = new_digest()
    d.update(f"{kind}\0{name}\0".encode())
    for k in sorted(parts):
        d.update(f"{k}\0{parts[k]}\0".encode())
    return FunctionIdentity(d.hexdigest(), name, kind, parts)


def is_hashable_callable(obj: Any) -> bool:
    """True for callables :func:`function_identity` can identify."""
    return isinstance(
        obj,
        (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial,
         type, np.ufunc, types.MethodWrapperType, types.WrapperDescriptorType),
    ) or hasattr(obj, "__pylearn_component_fn__")


def feed_callable(d: Any, obj: Any, path: str) -> None:
    """Feed a callable value (a higher-order argument) by its identity."""
    d.update(b"@" + function_identity(obj).digest.encode())
