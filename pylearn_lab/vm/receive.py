"""Turning what comes back from the backend into scheduler events.

A finished future holds a :class:`~pylearn_lab.vm.task.Receipt` (or a list,
for a batch): :func:`receive` stores the value when the client is the one
that stores (values travelled with the task), and tells the scheduler the node
is done, failed, skipped, or needs an input that vanished. A future that
*raised* means the worker, not user code, failed: see
:mod:`~pylearn_lab.vm.retries`.

Examples
--------
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.vm.plan import make_plan
>>> from pylearn_lab.vm.scheduler import Scheduler
>>> from pylearn_lab.vm.task import Receipt
>>> @component
... def one() -> int:
...     return 1
>>> s = Scheduler(make_plan([one()], cache=None))
>>> k = s.take_ready()[0]; s.on_submitted([k])
>>> receive(s, Receipt(k, ok=True, value=1, has_value=True), cache=None, client_stores=False)
>>> s.values[k], s.counts.done
(1, 1)
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ..cache.warn import warn_once
from ..errors import NodeError
from .recipe import recipe
from .scheduler import Scheduler
from .task import Receipt

__all__ = ["node_error", "receive", "store_value"]

log = logging.getLogger(__name__)


def node_error(sched: Scheduler, k: str, etype: str, msg: str, tb: str,
               engine: str | None) -> NodeError:
    """The error for node ``k``: catchable as its original type when the client knows it."""
    return NodeError.of(repr(sched.graph.expr(k)), k, etype, msg, tb, engine or None)


def receive(sched: Scheduler, r: Receipt, cache: Any, client_stores: bool) -> None:
    """Apply one receipt; ``client_stores``: the value travelled back and the client saves it."""
    k = r.key
    if r.ok:
        if r.has_value and client_stores and cache is not None and sched.graph[k].cache:
            store_value(sched, cache, r)
        if r.warning and r.warning_cause and cache is not None:
            warn_once(cache.location, r.warning_cause, r.warning)  # from a worker process
        elif r.warning:
            log.warning(r.warning)
        sched.on_done(k, r.value, r.has_value, duration=r.duration, engine=r.engine,
                      stored=r.stored)
    elif r.missing_input:
        sched.on_input_lost(r.missing_input, k, running=True)
    elif r.error_type == "skipped":  # an earlier task of the same batch failed
        sched.on_failed(k, None, reason=r.error_msg)
    else:
        err = node_error(sched, k, r.error_type, r.error_msg, r.traceback, r.engine)
        sched.on_failed(k, err, error=f"{r.error_type}: {r.error_msg}", traceback=r.traceback,
                        engine=r.engine)


def store_value(sched: Scheduler, cache: Any, r: Receipt) -> None:
    """Store the value ``r`` brought back, with its node's recipe and how the call went
    (the client stores when values travel: no worker sees the cache)."""
    rec = recipe(sched.graph.expr(r.key))
    rec.update(duration=r.duration, host=r.host, pid=r.pid, engine=r.engine, created=time.time())
    cache.save(r.key, r.value, rec)
