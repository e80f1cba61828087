"""Backends by name, and the session's defaults.

``run(..., backend="threads")`` uses one shared pool per name for the whole
session (created on first use, closed at interpreter exit), so repeated runs
do not pay for starting workers again.

Examples
--------
>>> get_backend("serial").name
'serial'
>>> get_backend("gpu")
Traceback (most recent call last):
...
pylearn_lab.errors.BackendError: unknown backend 'gpu': expected one of 'serial', 'threads', 'processes', 'ipyparallel' or a Backend/Executor object.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Any

from ..errors import BackendError
from .local import ProcessBackend, SerialBackend, ThreadBackend

__all__ = [
    "get_backend",
    "resolve_backend",
    "set_default_backend",
    "get_default_backend",
    "register_backend",
    "current_cluster",
    "set_current_cluster",
    "BACKEND_NAMES",
]

_FACTORIES: dict[str, Callable[[], Any]] = {
    "serial": SerialBackend,
    "threads": ThreadBackend,
    "processes": ProcessBackend,
}
BACKEND_NAMES = ("serial", "threads", "processes", "ipyparallel")
_SHARED: dict[str, Any] = {}
_LOCK = threading.Lock()
_DEFAULT: Any = "serial"
_CLUSTER: Any = None


def register_backend(name: str, factory: Callable[[], Any]) -> None:
    """Make ``backend=name`` build (once per session) ``factory()``."""
    _FACTORIES[name] = factory


def current_cluster() -> Any:
    """The session's ipyparallel backend (set by ``%pylearn cluster start/connect``), or None."""
    return _CLUSTER


def set_current_cluster(backend: Any) -> None:
    """Remember ``backend`` as the session's cluster (None forgets it)."""
    global _CLUSTER
    _CLUSTER = backend


def get_backend(name: str) -> Any:
    """The session-wide backend called ``name``."""
    if name == "ipyparallel":
        if _CLUSTER is None:
            raise BackendError(
                "backend 'ipyparallel' needs a cluster, and this session has none. Start one with "
                "pylearn_lab.IPyParallelBackend.start(n=2) (or %pylearn cluster start), or connect "
                "with IPyParallelBackend.connect(...)."
            )
        return _CLUSTER
    with _LOCK:
        if name in _SHARED:
            return _SHARED[name]
        factory = _FACTORIES.get(name)
        if factory is None:
            known = ", ".join(repr(n) for n in BACKEND_NAMES)
            raise BackendError(
                f"unknown backend {name!r}: expected one of {known} or a Backend/Executor object."
            )
        backend = _SHARED[name] = factory()
        return backend


def resolve_backend(backend: Any) -> Any:
    """``run``'s ``backend=`` argument: None -> session default, name -> shared, object -> itself."""
    if backend is None:
        backend = _DEFAULT
    if isinstance(backend, str):
        return get_backend(backend)
    if _is_dask_client(backend):  # its submit returns dask futures: wrap it once per client
        from .dask_backend import DaskBackend

        return DaskBackend.for_client(backend)
    if callable(getattr(backend, "submit", None)):
        return backend
    raise BackendError(
        f"backend= expected a name ({', '.join(BACKEND_NAMES)}) or an object with "
        f"submit(fn, *args) -> Future, received {type(backend).__name__}."
    )


def _is_dask_client(obj: Any) -> bool:
    """A ``distributed.Client``, recognised by type name (distributed is not imported)."""
    return any(t.__name__ == "Client" and t.__module__.startswith("distributed")
               for t in type(obj).__mro__)


def set_default_backend(backend: Any) -> None:
    """Set the session default used when ``run`` gets no ``backend=``."""
    global _DEFAULT
    if isinstance(backend, str) and backend not in _FACTORIES and backend != "ipyparallel":
        resolve_backend(backend)  # raises the clear error
    _DEFAULT = backend


def get_default_backend() -> Any:
    """The session default (a name or a backend object)."""
    return _DEFAULT


@atexit.register
def _close_shared() -> None:
    for b in list(_SHARED.values()):
        try:
            b.close()
        except Exception:
            pass
    _SHARED.clear()



