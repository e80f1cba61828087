"""The ipyparallel backend: run graphs on an ipyparallel cluster, local or beyond one host.

One concept per module: :mod:`.backend` (the ``IPyParallelBackend``: it runs callables
and reports its capabilities), :mod:`.plane` (its task plane: how the VM's tasks reach
engines, the store data plane),
:mod:`.jobs` and :mod:`.watch` (futures, timeouts, lost and frozen engines),
:mod:`.store` (which engines see the cache, path maps), :mod:`.blobs` and
:mod:`.adopt` (the data plane: engines write blobs, the client indexes receipts),
:mod:`.root` (the cache directory deleted or replaced under running engines),
:mod:`.batch` (how long each function takes: the VM's slow-function split), :mod:`.packing` (what a task carries)
and :mod:`.remote` (the functions that run on engines).

The modules the dask and queue backends share (:mod:`.packing`, :mod:`.remote`,
:mod:`.batch`, :mod:`.store`) import no ipyparallel, so this package resolves
``IPyParallelBackend`` lazily: importing ``pylearn_lab.backends.ipp.packing`` does not
import ipyparallel (``tests/test_architecture.py`` checks it).

Examples
--------
>>> from pylearn_lab.backends.ipp import IPyParallelBackend
>>> IPyParallelBackend.name
'ipyparallel'
"""

from __future__ import annotations

from typing import Any

__all__ = ["ClusterStatus", "IPyParallelBackend"]


def __getattr__(name: str) -> Any:
    # lazily, so the ipyparallel-free modules above can be imported without ipyparallel
    if name in __all__:
        from . import backend

        return getattr(backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
