"""One warning per cause: a full disk must not print 600 identical lines.

Cache problems are handled (an entry recomputed, a result not stored) and
reported as :class:`~pylearn_lab.errors.CacheWarning`. The message of each
names the entry, so Python's own once-per-location filter never merges them;
:func:`warn_once` does, by an explicit *cause* (``"disk full"``,
``"untrusted"``, ...) per cache location. :func:`new_run` starts a new window
(``run`` does, through :func:`~pylearn_lab.cache.cache.resolve_cache`), so every run still says
once what went wrong; :func:`suppressed` tells how many repeats were dropped.

Examples
--------
>>> import warnings
>>> new_run()
>>> with warnings.catch_warnings(record=True) as w:
...     warnings.simplefilter("always")
...     for i in range(5):
...         _ = warn_once("/c", "disk full", f"result {i} not cached: disk full")
>>> len(w), suppressed("/c", "disk full")
(1, 4)
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import CacheWarning

__all__ = ["captured", "warn_once", "new_run", "suppressed"]

_SEEN: dict[tuple[str, str], int] = {}
_LOCK = threading.Lock()
_LOCAL = threading.local()  # .sink: where this thread's warnings go inside captured()


@contextmanager
def captured() -> Iterator[list[CacheWarning]]:
    """Collect the cache warnings *this thread* issues within, instead of showing them.

    A worker hands them back to the client with its receipt. ``warnings.catch_warnings``
    would do it by swapping the process-wide filters and ``showwarning``: two threads of
    one worker (a dask worker runs several) saving at once then restore each other's
    state, so one thread's warning is lost and the other's hook stays installed.

    >>> new_run()
    >>> with captured() as got:
    ...     _ = warn_once("/c", "disk full", "result 1 not cached: disk full")
    >>> [str(w) for w in got]
    ['result 1 not cached: disk full']
    """
    sink: list[CacheWarning] = []
    previous = getattr(_LOCAL, "sink", None)
    _LOCAL.sink = sink
    try:
        yield sink
    finally:
        _LOCAL.sink = previous


def warn_once(location: str, cause: str, message: str, stacklevel: int = 3) -> bool:
    """Issue ``message`` unless this cause was already reported for ``location`` in this
    run; True when it was issued."""
    with _LOCK:
        n = _SEEN.get((location, cause), 0)
        _SEEN[(location, cause)] = n + 1
    if n:
        return False
    w = CacheWarning(message)
    w.cause = cause  # type: ignore[attr-defined]  # a worker hands it back with its receipt
    sink = getattr(_LOCAL, "sink", None)
    if sink is not None:
        sink.append(w)
    else:
        warnings.warn(w, stacklevel=stacklevel)
    return True


def new_run() -> None:
    """Start a new reporting window: each cause may be reported once more."""
    with _LOCK:
        _SEEN.clear()


def suppressed(location: str, cause: str) -> int:
    """How many repeats of ``cause`` were not shown in this window."""
    with _LOCK:
        return max(0, _SEEN.get((location, cause), 0) - 1)
