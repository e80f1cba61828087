"""A lost worker: keep what it stored, resubmit the rest up to ``retries`` times.

A future that raises (instead of returning receipts) means the *worker*
failed -- a killed process, a dead engine -- never user code, whose errors
travel inside receipts. Its nodes are not the user's fault, so they are
resubmitted; a node that lost its worker more than ``retries`` times fails
with the cause named. A :class:`~pylearn_lab.errors.BackendError` (no engines,
the cluster is gone) is not retried: retrying cannot help.

Examples
--------
>>> r = Retries(limit=1)
>>> r.next_attempt("k"), r.next_attempt("k")
(True, False)
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import BackendError
from .receive import node_error
from .scheduler import Scheduler

__all__ = ["Retries"]

log = logging.getLogger(__name__)


class Retries:
    """Per-node attempts after lost workers (see the module docstring)."""

    __slots__ = ("limit", "attempts")

    def __init__(self, limit: int) -> None:
        self.limit = max(0, int(limit))
        self.attempts: dict[str, int] = {}

    def next_attempt(self, k: str) -> bool:
        """Count one lost worker for ``k``; True while it may be resubmitted."""
        n = self.attempts[k] = self.attempts.get(k, 0) + 1
        return n <= self.limit

    def on_worker_lost(self, sched: Scheduler, keys: list[str], exc: BaseException,
                       saved: set[str]) -> list[str]:
        """Apply a lost worker to its ``keys``; returns the keys to resubmit.

        ``saved``: keys the worker stored before dying (they count as done).
        Raises ``exc`` itself when it is a :class:`BackendError`.
        """
        if isinstance(exc, BackendError):
            raise exc
        retry: list[str] = []
        for k in keys:
            again = self.next_attempt(k)
            if k in saved:
                sched.on_done(k, stored=True, recovered=True)
            elif again:
                log.warning("node %s lost its worker (%s); retry %d", sched.label(k), exc,
                            self.attempts[k])
                sched.on_requeued(k)
                retry.append(k)
            else:
                etype = f"{type(exc).__module__}.{type(exc).__qualname__}"
                err = node_error(sched, k, etype, f"the worker was lost: {exc}", "", None)
                sched.on_failed(k, err, error=str(exc))
        return retry


def saved_by_lost_worker(sched: Scheduler, cache: Any, keys: list[str]) -> set[str]:
    """Which of ``keys`` a lost worker stored before it died."""
    if cache is None:
        return set()
    cacheable = [k for k in keys if sched.graph[k].cache]
    return cache.contains_many(cacheable) if cacheable else set()
