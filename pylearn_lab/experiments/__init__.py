"""The experiment database read back: results tables, lineage trees, ``why`` a miss, plots.

(This package was ``pylearn_lab.lineage`` until the name clashed with the
function :func:`pylearn_lab.lineage`; the function keeps the name.)

Everything here reads the cache index (records written by the VM as results
are stored); nothing schedules or computes. Plots import matplotlib, so they
load on first use.

Examples
--------
>>> from pylearn_lab.experiments import results, lineage, why
>>> callable(results) and callable(lineage) and callable(why)
True
"""

from __future__ import annotations

import importlib
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
    raise AttributeError(f"module 'pylearn_lab.experiments' has no attribute {name!r}")
