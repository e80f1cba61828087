"""``%pylearn`` alone: one screen with the session's backend, cluster and cache.

Examples
--------
>>> from pylearn_lab.cache import Cache
>>> print(status_text(MagicSession(), Cache(":memory:"), "serial"))  # doctest: +NORMALIZE_WHITESPACE
pylearn_lab 0.1.0
backend   serial
cluster   none (start one with %pylearn cluster start -n 2)
cache     :memory: -- 0 entries, 0 B (no size cap)
session   0 hits / 0 misses (hit rate 0%), 0 ms saved; %%pylearn cells: 0 served, 0 run
"""

from __future__ import annotations

from typing import Any

from ..cache.cache import format_size
from .cell import describe_seconds
from .session import MagicSession

__all__ = ["cluster_summary", "engine_count", "status_text"]


def engine_count(cluster: Any) -> int | None:
    """Engines of a cluster backend (its ``workers``, else its status), None when unknown."""
    value = getattr(cluster, "workers", None)
    if isinstance(value, int):
        return value
    status = _status_of(cluster)
    engines = getattr(status, "engines", None)
    return engines if isinstance(engines, int) else None


def _status_of(cluster: Any) -> Any:
    fn = getattr(cluster, "status", None)
    if not callable(fn):
        return None
    try:
        return fn()
    except Exception as exc:  # a dead cluster must not break the status screen
        return f"unreachable ({type(exc).__name__}: {exc})"


def cluster_summary(session: MagicSession, cluster: Any) -> str:
    """``'2 engines (ipyparallel, started here)'`` or ``'none (...)'``."""
    if cluster is None:
        return "none (start one with %pylearn cluster start -n 2)"
    n = engine_count(cluster)
    how = "started by %pylearn" if cluster is session.cluster and session.owns_cluster else "connected"
    engines = f"{n} engine{'s' if n != 1 else ''}" if n is not None else "engines unknown"
    return f"{engines} (ipyparallel, {how})"


def status_text(session: MagicSession, cache: Any, backend: Any, cluster: Any = None) -> str:
    """The status screen as text (see the module docstring)."""
    from .. import __version__

    info = cache.info()
    cap = f"cap {format_size(info.max_bytes)}" if info.max_bytes else "no size cap"
    name = backend if isinstance(backend, str) else type(backend).__name__
    lines = [
        f"pylearn_lab {__version__}",
        f"backend   {name}",
        f"cluster   {cluster_summary(session, cluster)}",
        f"cache     {info.location} -- {_entries(info.entries)}, {format_size(info.bytes)} ({cap})",
        (f"session   {info.hits} hits / {info.misses} misses (hit rate {info.hit_rate:.0%}), "
         f"{describe_seconds(info.time_saved)} saved; %%pylearn cells: {session.cell_hits} "
         f"served, {session.cell_misses} run"),
    ]
    return "\n".join(lines)


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"
