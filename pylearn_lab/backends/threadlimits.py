"""How many BLAS/OpenMP threads a worker may use: cores ÷ workers, as loky does.

N worker processes each running a BLAS or OpenMP library with one thread per
core oversubscribe the machine N-fold (on 2 cores, 2 workers × 2 threads was
a third slower than joblib in the scikit-learn trial). The policy lives in two
functions so every backend applies the same rule: :func:`thread_budget` says
how many threads each of ``workers`` processes gets, and :func:`limit_threads`
applies it inside a worker (a process pool's initializer, or once on each
ipyparallel engine: ``view.apply_sync(limit_threads, n)``).

The limit is set twice, because libraries load at different times:
environment variables (``OMP_NUM_THREADS`` and friends) for the ones loaded
later, and ``threadpoolctl`` for those already loaded (numpy's BLAS). Without
threadpoolctl installed, only the environment variables are set.

Examples
--------
>>> thread_budget(workers=2, cores=2), thread_budget(workers=1, cores=8)
(1, 8)
>>> thread_budget(workers=2, cores=8, threads=3)  # an explicit choice wins
3
>>> thread_budget(workers=2, cores=8, threads=False) is None  # no limit at all
True
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["thread_budget", "limit_threads", "THREAD_ENV_VARS"]

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                   "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_held: list[Any] = []  # keeps the threadpoolctl limiter alive in this process


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def thread_budget(workers: int, cores: int | None = None,
                  threads: int | bool | None = None) -> int | None:
    """Threads per worker: ``threads`` if given, else ``max(1, cores // workers)``.

    ``threads=False`` (or 0) means "do not limit" and returns None.
    """
    if threads is False or threads == 0:
        return None
    if threads is not None and threads is not True:
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads_per_worker= expected a positive int, False or None, "
                             f"received {threads!r}.")
        return threads
    return max(1, (cores or _cores()) // max(1, workers))


def limit_threads(n: int | None) -> int | None:
    """Limit this process's BLAS/OpenMP pools to ``n`` threads (None: leave them alone)."""
    if n is None:
        return None
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return n
    _held.clear()
    _held.append(threadpool_limits(limits=n))
    return n
