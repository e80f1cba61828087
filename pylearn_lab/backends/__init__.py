"""Backends: where nodes run (serial, threads, processes, ipyparallel).

A backend runs callables (``submit(fn, *args) -> Future``) and reports what it can
do (:class:`Capabilities`, read by the VM once per run; see :mod:`.capabilities`).

Examples
--------
>>> from pylearn_lab.backends import resolve_backend
>>> resolve_backend("serial").submit(len, "abc").result()
3
"""

from .capabilities import Capabilities, TaskPlane, capabilities_of
from .local import Backend, ProcessBackend, SerialBackend, ThreadBackend
from .registry import (
    BACKEND_NAMES,
    current_cluster,
    get_backend,
    get_default_backend,
    register_backend,
    resolve_backend,
    set_current_cluster,
    set_default_backend,
)

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "Capabilities",
    "ProcessBackend",
    "SerialBackend",
    "TaskPlane",
    "ThreadBackend",
    "capabilities_of",
    "current_cluster",
    "get_backend",
    "get_default_backend",
    "register_backend",
    "resolve_backend",
    "set_current_cluster",
    "set_default_backend",
]
