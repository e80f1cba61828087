"""The public API, pinned exactly: adding or dropping a name is a decision made here.

Also: the names that load heavy modules stay lazy, and ``pylearn_lab.lineage`` is
the function whatever was imported first (the package is ``pylearn_lab.experiments``).
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import pylearn_lab

PUBLIC = {
    # graphs and running them
    "component", "Expr", "Graph", "pipeline", "Bounds", "all_components", "run", "RunHandle",
    "call", "register_rewrite", "Event", "Recorder", "Status",
    # experiments
    "sweep", "random_search", "results", "lineage", "why",
    # hashing and the cache
    "hash_value", "register_hash", "function_identity", "untracked", "Cache", "Record",
    "get_default_cache", "set_default_cache",
    # backends
    "Backend", "SerialBackend", "ThreadBackend", "ProcessBackend", "IPyParallelBackend",
    "DaskBackend", "QueueBackend",
    "set_default_backend",
    # errors
    "PylearnError", "BackendError", "CacheError", "CycleError", "GraphError", "IntegrityError",
    "NodeError", "UnhashableError", "UnpicklableError",
    # Jupyter
    "GraphBuilder", "load_ipython_extension", "unload_ipython_extension",
}
LAZY = {"IPyParallelBackend", "DaskBackend", "QueueBackend", "sweep", "random_search", "results", "lineage", "why",
        "GraphBuilder"}


def test_all_is_exactly_the_pinned_set():
    assert len(pylearn_lab.__all__) == len(set(pylearn_lab.__all__)), "a name listed twice"
    assert set(pylearn_lab.__all__) == PUBLIC, (
        f"added: {sorted(set(pylearn_lab.__all__) - PUBLIC)}, "
        f"dropped: {sorted(PUBLIC - set(pylearn_lab.__all__))}")


def test_every_public_name_resolves():
    for name in sorted(PUBLIC):
        assert getattr(pylearn_lab, name) is not None, name


def test_lazy_names_stay_lazy_and_import_stays_light():
    code = (
        "import sys, pylearn_lab as pl\n"
        f"lazy = {sorted(LAZY)!r}\n"
        "print(sorted(n for n in lazy if n in vars(pl)))\n"
        "print(sorted(m for m in ('pylearn_lab.widgets', 'pylearn_lab.backends.ipp', "
        "'pylearn_lab.experiments', 'ipywidgets', 'ipyparallel') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "[]"], out.stdout


def test_lineage_is_the_function_whatever_was_imported_first():
    code = (
        "import pylearn_lab as pl, pylearn_lab.experiments.tree, inspect\n"
        "import pylearn_lab.experiments.why\n"
        "print(inspect.isfunction(pl.lineage), pl.lineage.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True pylearn_lab.experiments.tree"
    assert inspect.isfunction(pylearn_lab.lineage) and inspect.isfunction(pylearn_lab.why)
    assert "lineage" not in {m.rpartition(".")[2] for m in sys.modules if m.startswith("pylearn_lab.")}
