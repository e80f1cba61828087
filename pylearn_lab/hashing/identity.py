"""What a callable is called and what its identity holds: :class:`FunctionIdentity`.

The identity itself is computed in :mod:`pylearn_lab.hashing.functions`; this
module holds the value it returns and the two name helpers every layer uses
(records, the training loop, the magics).

Examples
--------
>>> qualified_name(len)
'builtins.len'
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FunctionIdentity", "qualified_name", "unwrap_component"]


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
