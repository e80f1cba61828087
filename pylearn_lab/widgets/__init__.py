"""Notebook widgets: the graph builder (and, beside it, results and lineage views).

Everything here imports ipywidgets, so names load on first use: ``import
pylearn_lab`` stays light and works in a plain script.

Examples
--------
>>> import sys, pylearn_lab.widgets
>>> "pylearn_lab.widgets.builder" in sys.modules or callable(pylearn_lab.widgets.GraphBuilder)
True
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["BuilderModel", "GraphBuilder", "ResultsView", "TrainingPlot"]

_LAZY = {
    "GraphBuilder": ".builder",
    "BuilderModel": ".builder_model",
    "ResultsView": ".results",
    "TrainingPlot": ".training_plot",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pylearn_lab.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
