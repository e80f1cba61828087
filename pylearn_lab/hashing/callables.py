"""Which objects are callables with an identity, and which are callable *values*.

Functions, classes, builtins, bound methods, partials, ufuncs, ``lru_cache``
wrappers and components are identified by
:func:`~pylearn_lab.hashing.functions.function_identity`. Library function-like
objects without state of their own (numpy's array-function dispatchers such
as ``np.mean``, Cython functions) are too, when importable by module and
qualified name as themselves. Any other callable -- an instance of a class
with ``__call__`` (a toolz ``curry`` with bound arguments, your own
``Scaler(2)``) -- is a value: its class and its state count.

Examples
--------
>>> __name__ = "__main__"  # examples run as a notebook's code does
>>> import numpy as np
>>> is_hashable_callable(np.mean), is_hashable_callable(len)
(True, True)
>>> class Scale:
...     def __call__(self, x):
...         return x
>>> is_hashable_callable(Scale()), is_instance_callable(Scale())
(False, True)
"""

from __future__ import annotations

import functools
import sys
import types
from typing import Any

import numpy as np

from .versions import is_library_module

__all__ = ["FUNCTION_TYPES", "is_hashable_callable", "is_instance_callable"]

#: Types whose instances are functions in their own right (no state beyond what they bind).
FUNCTION_TYPES: tuple[type, ...] = (
    types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial,
    type, np.ufunc, types.MethodWrapperType, types.WrapperDescriptorType,
    types.MethodDescriptorType, types.ClassMethodDescriptorType, functools._lru_cache_wrapper,
)
_FUNCTION_LIKE = frozenset({"_ArrayFunctionDispatcher", "cython_function_or_method",
                            "fused_cython_function"})


def is_hashable_callable(obj: Any) -> bool:
    """True for callables :func:`function_identity` identifies (not callable instances)."""
    if isinstance(obj, FUNCTION_TYPES) or hasattr(obj, "__pylearn_component_fn__"):
        return True
    typ = type(obj)
    if typ.__name__ in _FUNCTION_LIKE:
        return True
    return (callable(obj) and is_library_module(typ.__module__)
            and not hasattr(obj, "__wrapped__") and _importable_as_itself(obj))


def is_instance_callable(obj: Any) -> bool:
    """An instance of a user class with ``__call__`` (keyed by class and state)."""
    if isinstance(obj, FUNCTION_TYPES) or hasattr(obj, "__pylearn_component_fn__"):
        return False
    return callable(obj) and not is_library_module(type(obj).__module__)


def _importable_as_itself(obj: Any) -> bool:
    mod, qual = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(mod, str) or not isinstance(qual, str) or "<" in qual:
        return False
    target: Any = sys.modules.get(mod)
    for part in qual.split("."):
        target = getattr(target, part, None)
    return target is obj and is_library_module(mod)
