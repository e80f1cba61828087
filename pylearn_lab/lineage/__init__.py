"""The experiment database read back: results tables, lineage trees, ``why`` a miss, plots.

Everything here reads the cache index (records written by the VM as results
are stored); nothing schedules or computes. Plots import matplotlib, so they
load on first use.

Examples
--------
>>> from pylearn_lab.lineage import results, lineage, why
>>> callable(results) and callable(lineage) and callable(why)
True
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from .results import results
from .table import Table
from .tree import LineageNode, lineage
from .why import Difference, Explanation, why

__all__ = ["results", "Table", "lineage", "LineageNode", "why", "Explanation", "Difference",
           "plot_marginal", "plot_history"]


def __getattr__(name: str) -> Any:
    if name in ("plot_marginal", "plot_history"):
        value = getattr(importlib.import_module(".plots", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pylearn_lab.lineage' has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`lineage`.

    ``import pylearn_lab.lineage.<anything>`` binds the *package* to the name
    ``pylearn_lab.lineage``, shadowing the lazily exported function of the same
    name; making the package callable keeps ``pylearn_lab.lineage(expr)`` working
    whichever was bound first.
    """

    def __call__(self, expr_or_key: Any, cache: Any = None) -> LineageNode:
        return lineage(expr_or_key, cache=cache)


sys.modules[__name__].__class__ = _CallableModule
