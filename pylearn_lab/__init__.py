"""pylearn_lab: cached, parallel expression graphs of Python calls, for notebooks.

Compose calls into a graph with :func:`component`, run it with :func:`run` on
a backend (serial, threads, processes, ipyparallel), and every result lands in
a persistent :class:`Cache` keyed by what was computed -- which is also the
database of your experiments.

Examples
--------
>>> import pylearn_lab as pl
>>> @pl.component
... def double(x: int) -> int:
...     return 2 * x
>>> e = double(double(3))
>>> e
double(double(3))
>>> pl.run(e, cache=False)
12

In IPython or Jupyter, ``%load_ext pylearn_lab`` adds the ``%pylearn`` magics.
"""

from __future__ import annotations

from typing import Any

from .backends import (
    Backend,
    ProcessBackend,
    SerialBackend,
    ThreadBackend,
    set_default_backend,
)
from .cache import Cache, Record, get_default_cache, set_default_cache
from .errors import (
    BackendError,
    CacheError,
    CycleError,
    GraphError,
    IntegrityError,
    NodeError,
    PylearnError,
    Status,
    UnhashableError,
    UnpicklableError,
)
from .graph import Bounds, Expr, Graph, component, pipeline
from .graph.registry import all_components
from .hashing import function_identity, hash_value, register_hash, untracked
from .jobs import call
from .vm import Event, Recorder, RunHandle, register_rewrite, run

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendError",
    "Bounds",
    "Cache",
    "CacheError",
    "CycleError",
    "DaskBackend",
    "Event",
    "Expr",
    "Graph",
    "GraphBuilder",
    "GraphError",
    "IPyParallelBackend",
    "IntegrityError",
    "NodeError",
    "ProcessBackend",
    "PylearnError",
    "QueueBackend",
    "Record",
    "Recorder",
    "RunHandle",
    "SerialBackend",
    "Status",
    "ThreadBackend",
    "UnhashableError",
    "UnpicklableError",
    "all_components",
    "call",
    "component",
    "function_identity",
    "get_default_cache",
    "hash_value",
    "untracked",
    "lineage",
    "load_ipython_extension",
    "pipeline",
    "random_search",
    "register_hash",
    "register_rewrite",
    "results",
    "run",
    "set_default_backend",
    "set_default_cache",
    "sweep",
    "unload_ipython_extension",
    "why",
]

# Names whose modules import Jupyter/cluster libraries (or pandas, matplotlib): loaded on
# first use so that ``import pylearn_lab`` stays light and works in a plain script. They are
# in ``__all__`` all the same (``from pylearn_lab import *`` loads them).
_LAZY = {
    "IPyParallelBackend": ("pylearn_lab.backends.ipp", "IPyParallelBackend"),
    "DaskBackend": ("pylearn_lab.backends.dask_backend", "DaskBackend"),
    "QueueBackend": ("pylearn_lab.backends.queue_backend", "QueueBackend"),
    "sweep": ("pylearn_lab.jobs.sweep", "sweep"),
    "random_search": ("pylearn_lab.jobs.sweep", "random_search"),
    "results": ("pylearn_lab.experiments.results", "results"),
    "lineage": ("pylearn_lab.experiments.tree", "lineage"),
    "why": ("pylearn_lab.experiments.why", "why"),
    "GraphBuilder": ("pylearn_lab.widgets", "GraphBuilder"),
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'pylearn_lab' has no attribute {name!r}")
    import importlib

    try:
        module = importlib.import_module(target[0])
    except ImportError as exc:
        raise AttributeError(
            f"pylearn_lab.{name} is not available: {exc}"
        ) from exc
    value = getattr(module, target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def load_ipython_extension(ip: Any) -> None:
    """``%load_ext pylearn_lab``: register the ``%pylearn`` magics."""
    from .magics import load_ipython_extension as load

    load(ip)


def unload_ipython_extension(ip: Any) -> None:
    """``%unload_ext pylearn_lab``: stop what the magics started."""
    from .magics import unload_ipython_extension as unload

    unload(ip)
