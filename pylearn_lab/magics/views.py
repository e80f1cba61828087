"""Thin entry points: ``%pylearn results / lineage / why / builder``.

Each one looks its argument up in the namespace and calls the capability that
code would call (:func:`pylearn_lab.experiments.results`, ``lineage``, ``why``,
:class:`pylearn_lab.widgets.GraphBuilder`), imported on first use. While a
capability is missing from the installed package, the magic says so in one
line instead of failing.

Examples
--------
>>> capability("pylearn_lab.no_such_module", "thing", "%pylearn demo")
Traceback (most recent call last):
...
IPython.core.error.UsageError: %pylearn demo is not available yet: pylearn_lab.no_such_module.thing could not be imported (No module named 'pylearn_lab.no_such_module').
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from IPython.core.error import UsageError

from .session import DOTTED, lookup

__all__ = [
    "builder_view",
    "capability",
    "lineage_view",
    "resolve_func",
    "resolve_target",
    "results_view",
    "why_view",
]

_KEY = re.compile(r"^[0-9a-f]{8,64}$")


def capability(module: str, name: str, what: str) -> Any:
    """``module.name``, or a one-line UsageError saying it is not available yet."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise UsageError(
            f"{what} is not available yet: {module}.{name} could not be imported ({exc})."
        ) from None


def resolve_func(ns: dict[str, Any], text: str) -> Any:
    """A component/function from the namespace, else the text itself (a registry name,
    a stored ``module.qualname``, or ``%%pylearn`` for cached cells)."""
    text = text.strip()
    if DOTTED.match(text) and text.split(".")[0] in ns:
        return lookup(ns, text)
    return text


def resolve_target(ns: dict[str, Any], text: str) -> Any:
    """An expression from the namespace, or a cache key (hex) when no such name exists."""
    text = text.strip()
    if _KEY.match(text) and text not in ns:
        return text
    return lookup(ns, text)


def results_view(ns: dict[str, Any], func: str | None) -> Any:
    """``%pylearn results [FUNC]``: the experiment table."""
    results = capability("pylearn_lab.experiments.results", "results", "%pylearn results")
    return results(resolve_func(ns, func) if func else None)


def lineage_view(ns: dict[str, Any], expr: str) -> Any:
    """``%pylearn lineage EXPR``: the lineage tree."""
    lineage = capability("pylearn_lab.experiments.tree", "lineage", "%pylearn lineage")
    return lineage(resolve_target(ns, expr))


def why_view(ns: dict[str, Any], expr: str) -> Any:
    """``%pylearn why EXPR``: why a node misses the cache."""
    why = capability("pylearn_lab.experiments.why", "why", "%pylearn why")
    from ..graph.expr import Expr

    target = lookup(ns, expr)
    if not isinstance(target, Expr):
        raise UsageError(
            f"%pylearn why expected a variable holding an expression (call a @component to build "
            f"one), received {type(target).__name__} in {expr!r}. For a stored key use "
            "%pylearn lineage KEY."
        )
    return why(target)


def builder_view(ns: dict[str, Any], expr: str | None) -> Any:
    """``%pylearn builder [EXPR]``: the graph builder widget, optionally seeded."""
    builder = capability("pylearn_lab.widgets", "GraphBuilder", "%pylearn builder")
    return builder(lookup(ns, expr)) if expr else builder()
