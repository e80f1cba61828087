"""Which ready nodes share one task, and the receipts of tasks that cannot travel.

Cluster backends cost milliseconds per task, so the VM sends tiny nodes in
batches (the size comes from the backend's
:attr:`~pylearn_lab.backends.capabilities.Capabilities.batch_hint`). Only
*tiny* nodes should share a task: :func:`groups` takes out again

* a node with a timeout: it goes alone, so a timeout names it, not its group;
* a node whose function the backend's timings know to be slow
  (:attr:`~pylearn_lab.backends.capabilities.Capabilities.is_slow`): a slow
  node delays its group-mates and unbalances the workers.

Batching never changes keys or results: every node is stored individually.
:func:`unpicklable_receipts` are the node errors of a task the backend could
not pickle (the run goes on; the node says why and what to do).

Examples
--------
>>> from types import SimpleNamespace as NS
>>> def task(key, fn, timeout=None, inputs=()):
...     return NS(call=NS(key=key, func=fn, inputs=inputs), timeout=timeout)
>>> a, b, c = task("a", abs), task("b", len), task("c", abs, timeout=1.0)
>>> [[t.call.key for t in g] for g in groups([a, b, c], is_slow=lambda t: t.call.func is len)]
[['c'], ['b'], ['a']]
>>> unpicklable_receipts(["a"], TypeError("cannot pickle lock"))[0].error_type
'builtins.TypeError'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .task import Receipt

__all__ = ["groups", "split_slow", "unpicklable_receipts"]


def groups(tasks: list[Any], is_slow: Callable[[Any], bool] | None = None) -> list[list[Any]]:
    """The tasks to send for one chunk of ready nodes: timeout nodes alone, then
    :func:`split_slow` of the rest (one group when nothing is known to be slow)."""
    if len(tasks) < 2:
        return [tasks] if tasks else []
    # a node with a timeout goes alone: the error must name it, not its group
    out = [[t] for t in tasks if getattr(t, "timeout", None) is not None]
    rest = [t for t in tasks if getattr(t, "timeout", None) is None]
    if len(rest) > 1 and is_slow is not None:
        return out + split_slow(rest, is_slow)
    return out + ([rest] if rest else [])


def split_slow(tasks: list[Any], is_slow: Callable[[Any], bool]) -> list[list[Any]]:
    """Groups to send: each known-slow task alone, the tiny rest together.

    Only for independent tasks (no task reads another's output), which is what
    the VM batches: ready nodes whose inputs already exist. A chain stays one
    group: it must run in order in one call.
    """
    keys = {t.call.key for t in tasks}
    if any(k in keys for t in tasks for k in t.call.inputs):
        return [tasks]
    slow = [t for t in tasks if is_slow(t)]
    if not slow:
        return [tasks]
    rest = [t for t in tasks if not is_slow(t)]
    return [[t] for t in slow] + ([rest] if rest else [])


def unpicklable_receipts(keys: list[str], exc: BaseException) -> list[Receipt]:
    """One failed receipt per node of a task that could not be pickled to travel.

    ``exc`` is what pickling raised (the cause of an ``UnpicklableError``, when
    a backend wrapped it): its type becomes the node's error type.
    """
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    etype = f"{type(cause).__module__}.{type(cause).__qualname__}"
    msg = (f"the task cannot be pickled to travel to a worker ({cause}). Pass data the object "
           "can be rebuilt from, or run this node on the 'threads' backend.")
    return [Receipt(k, ok=False, error_type=etype, error_msg=msg) for k in keys]
