"""Backends: where nodes run (serial, threads, processes, ipyparallel).

Examples
--------
>>> from pylearn_lab.backends import resolve_backend
>>> resolve_backend("serial").submit(len, "abc").result()
3
"""

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
    "ProcessBackend",
    "SerialBackend",
    "ThreadBackend",
    "current_cluster",
    "get_backend",
    "get_default_backend",
    "register_backend",
    "resolve_backend",
    "set_current_cluster",
    "set_default_backend",
]
