"""``@component``: turn a plain function into a graph-building step.

Calling a component runs nothing: it binds the arguments to the function's
signature (so ``f(1, b=2)`` and ``f(1, 2)`` are the same call), checks simple
annotations, computes the node key and returns an :class:`~pylearn_lab.graph.Expr`.
The plain function stays reachable as ``comp.fn``.

Examples
--------
>>> @component
... def add(a: float, b: float = 1.0) -> float:
...     '''Add two numbers.'''
...     return a + b
>>> e = add(1, b=2)
>>> e.key == add(1, 2).key
True
>>> e.compute(cache=False)  # numbers follow their annotation: b=2 arrives as 2.0
3.0
"""

from __future__ import annotations

import functools
import importlib
import inspect
import weakref
from collections.abc import Callable, Iterable
from typing import Any, overload

from ..errors import SignatureError
from ..hashing.functions import FunctionIdentity, function_identity, qualified_name
from . import registry
from .seconds import check_seconds
from .params import ParamSpec, param_specs

__all__ = ["Component", "component", "as_component"]


class Component:
    """A function wrapped as a graph step; see :func:`component`.

    Attributes
    ----------
    fn : callable
        The plain function.
    name : str
        Short display name (defaults to the function name).
    qualname : str
        ``module.qualname`` of the function: the registry key.
    version : str or None
        A user label replacing the source-based identity.
    category : str
        Palette group in the graph builder.
    cache : bool
        Whether results of this component are stored in the cache.
    ignore : frozenset of str
        Parameters passed to the function but left out of the key (and of records).
    timeout : float or None
        Seconds one call may run on a backend that can stop it (ipyparallel).
    """

    # What keying a call needs that does not depend on the call (graph/expr.py _Binder),
    # built on the first call; never pickled (``__reduce__`` rebuilds the component).
    _key_binder: Any = None

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        version: str | int | None = None,
        category: str | None = None,
        cache: bool = True,
        register: bool = True,
        ignore: Iterable[str] = (),
        timeout: float | None = None,
    ) -> None:
        if isinstance(fn, Component):
            fn = getattr(fn, "__pylearn_component_fn__")
        if not callable(fn):
            raise TypeError(
                f"component() expected a function, received {type(fn).__name__} {fn!r:.60}. "
                "Decorate a def, or pass a function: component(my_function)."
            )
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]
        self.fn: Callable[..., Any] = fn
        self.__pylearn_component_fn__: Callable[..., Any] = fn
        self.name: str = name or getattr(fn, "__name__", None) or type(fn).__name__
        self.qualname = qualified_name(fn)
        self.version = None if version is None else str(version)
        self.category = category or _default_category(fn)
        self.cache = cache
        # not part of the key: how long a call may take does not change what it computes
        self.timeout: float | None = check_seconds("timeout", timeout, where="component")
        try:
            self.signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):  # some builtins have none: bind positionally
            self.signature = None
        self.ignore: frozenset[str] = _check_ignore(self.name, self.signature, ignore)
        self._specs: list[ParamSpec] | None = None
        if register:
            registry.register(self)

    # -- graph building --------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        build = _BUILD_EXPR
        if build is None:  # expr.py imports this module: bound on first use, not per call
            build = _bind_build_expr()  # (a function-level import costs ~2 us per node)
        return build(self, args, kwargs)

    @property
    def params(self) -> list[ParamSpec]:
        """The parameters as :class:`~pylearn_lab.graph.params.ParamSpec` records."""
        if self._specs is None:
            self._specs = param_specs(self.fn)
        return self._specs

    def identity(self) -> FunctionIdentity:
        """The function identity that enters every key of this component's nodes."""
        return function_identity(self.fn, self.version)

    @property
    def summary(self) -> str:
        """First line of the docstring (the palette shows it)."""
        doc = inspect.getdoc(self.fn) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    # -- plumbing ---------------------------------------------------------------------
    def __repr__(self) -> str:
        sig = str(self.signature) if self.signature is not None else "(...)"
        return f"<component {self.name}{sig}>"

    def __reduce__(self) -> tuple[Any, ...]:
        # Importable components travel by name; notebook ones by value (cloudpickle
        # pickles ``fn`` by value because ``__main__`` is not importable on a worker).
        module, _, qual = self.qualname.rpartition(".")
        if module != "__main__" and "<locals>" not in qual:
            try:
                if _import_attr(module, qual) is self:
                    return (_import_attr, (module, qual))
            except Exception:
                pass
        return (
            _rebuild,
            (self.fn, self.name, self.version, self.category, self.cache, tuple(sorted(self.ignore)),
             self.timeout),
        )


def _import_attr(module: str, qual: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def _rebuild(fn: Any, name: str, version: str | None, category: str, cache: bool,
             ignore: tuple[str, ...] = (), timeout: float | None = None) -> Component:
    return Component(fn, name=name, version=version, category=category, cache=cache,
                     register=False, ignore=ignore, timeout=timeout)


def _check_ignore(name: str, sig: inspect.Signature | None, ignore: Iterable[str]) -> frozenset[str]:
    if isinstance(ignore, str):
        ignore = [ignore]  # ignore="verbose" means the one parameter, not its letters
    names = frozenset(ignore)
    if not names:
        return names
    params = [] if sig is None else [p.name for p in sig.parameters.values()
                                     if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    unknown = sorted(n for n in names if n not in params)
    if unknown:
        raise SignatureError(
            f"component {name}(ignore=...): expected names of its parameters {params}, received "
            f"{unknown}. Fix the spelling, or drop the names from ignore=."
        )
    return names


def _default_category(fn: Any) -> str:
    module = getattr(fn, "__module__", "") or ""
    if module.startswith("pylearn_lab.components."):
        return module.rsplit(".", 1)[-1]
    return "user"


@overload
def component(fn: Callable[..., Any], /) -> Component: ...
@overload
def component(
    *, name: str | None = None, version: str | int | None = None,
    category: str | None = None, cache: bool = True, ignore: Iterable[str] = (),
    timeout: float | None = None,
) -> Callable[[Callable[..., Any]], Component]: ...


def component(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    version: str | int | None = None,
    category: str | None = None,
    cache: bool = True,
    ignore: Iterable[str] = (),
    timeout: float | None = None,
) -> Any:
    """Make ``fn`` a graph component: calling it builds an expression, runs nothing.

    Usable bare (``@component``), with options (``@component(version="2")``)
    or as a function (``component(np.mean)``).

    Parameters
    ----------
    fn : callable
        The function to wrap.
    name : str, optional
        Display name (default: the function's name).
    version : str or int, optional
        Replace the source-based identity by this label: the key then changes
        only when the label does. Use for code whose source is not available or
        to keep results across an edit you know does not change them.
    category : str, optional
        Group shown in the graph builder's palette (default ``"user"``).
    cache : bool
        ``False`` never stores this component's results (cheap or huge outputs).
    ignore : iterable of str
        Parameters that do not change the result (``verbose``, ``n_jobs``, a
        progress callback): passed to the function, left out of the key and of
        the stored record, as ``joblib.Memory(ignore=...)`` offers. Two calls
        that differ only there share one entry.
    timeout : float, optional
        Seconds one call may run. The ipyparallel backend stops a call past it
        on its engine and reports a NodeError naming the node; the key does not
        depend on it. ``run(..., node_timeout=)`` sets one for every node.

    Returns
    -------
    Component

    Examples
    --------
    >>> @component(version="1", category="demo")
    ... def square(x: int) -> int:
    ...     return x * x
    >>> square(3).compute(cache=False)
    9
    """
    if fn is not None:
        return Component(fn, name=name, version=version, category=category, cache=cache,
                         ignore=ignore, timeout=timeout)

    def decorate(f: Callable[..., Any]) -> Component:
        return Component(f, name=name, version=version, category=category, cache=cache,
                         ignore=ignore, timeout=timeout)

    return decorate


_ADHOC: "weakref.WeakKeyDictionary[Any, Component]" = weakref.WeakKeyDictionary()
_ADHOC_DATA: dict[Any, Component] = _ADHOC.data  # type: ignore[attr-defined]  # its dict


def as_component(fn: Any) -> Component:
    """``fn`` as a Component (unregistered, memoised) for ``call()`` and plain functions."""
    if isinstance(fn, Component):
        return fn
    try:
        comp = _ADHOC_DATA.get(weakref.ref(fn))  # _ADHOC.get(fn) without its Python frame
    except TypeError:  # unhashable or not weak-referenceable: a fresh component each time
        comp = None
    if comp is None:
        comp = Component(fn, register=False)
        try:
            _ADHOC[fn] = comp
        except TypeError:
            pass
    return comp


_BUILD_EXPR: Callable[..., Any] | None = None


def _bind_build_expr() -> Callable[..., Any]:
    global _BUILD_EXPR
    from .expr import build_expr

    _BUILD_EXPR = build_expr
    return build_expr
