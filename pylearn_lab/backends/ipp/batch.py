"""Tiny-node batching for ipyparallel: which nodes may share one task.

ipyparallel costs about 3 ms per task, so 2,000 nodes of a few microseconds
each would spend seconds in round trips. The VM asks the backend for a batch
size (:meth:`IPyParallelBackend.batch_hint`) and sends each group of ready nodes
as one :func:`~pylearn_lab.vm.task.execute_batch` call. Only *tiny* nodes
should share a task: a slow node in a group delays its group-mates and
unbalances the engines. :class:`NodeTimes` learns how long each function
takes from the receipts, and the VM (:func:`~pylearn_lab.vm.batching.split_slow`,
fed by the backend's ``is_slow``) takes functions known to be slow out of a
group again, so they go one per task. Batching never changes
keys or results: every node is still stored individually.

Examples
--------
>>> times = NodeTimes()
>>> times.observe("mod.f", 0.5)
>>> times.is_slow("mod.f"), times.is_slow("mod.g")
(True, False)
>>> from types import SimpleNamespace as NS
>>> times.expect([NS(call=NS(key="k1", func=len))])
>>> for _ in range(3):
...     times.observe("builtins.len", 0.5e-3)
>>> times.tiny_mean(["k1"]), times.tiny_mean(["unknown"])
(0.0005, None)
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["TINY", "NodeTimes", "function_name"]

#: Nodes faster than this (seconds) are tiny: ipyparallel's per-task cost would dominate.
TINY = 0.02


def function_name(task: Any) -> str:
    """``module.qualname`` of a VM task's function (the unit of timing)."""
    fn = task.call.func
    return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"


class NodeTimes:
    """Running mean duration per function, from the receipts that come back."""

    def __init__(self) -> None:
        self._mean: dict[str, float] = {}
        self._seen: dict[str, int] = {}  # durations folded in, per function
        self._fn_of: dict[str, str] = {}  # node key -> function name, while in flight
        self._lock = threading.Lock()

    def expect(self, tasks: list[Any]) -> None:
        """Remember which function each task's key belongs to."""
        with self._lock:
            for t in tasks:
                self._fn_of[t.call.key] = function_name(t)

    def observe(self, name: str, seconds: float) -> None:
        """Fold one duration of ``name`` into its mean."""
        with self._lock:
            old = self._mean.get(name)
            self._mean[name] = seconds if old is None else 0.7 * old + 0.3 * seconds
            self._seen[name] = self._seen.get(name, 0) + 1

    def observe_result(self, result: Any) -> None:
        """Fold in the receipts of one finished task (ignores anything else)."""
        for r in result if isinstance(result, list) else [result]:
            key = getattr(r, "key", None)
            if not isinstance(key, str) or not hasattr(r, "duration"):
                continue
            with self._lock:
                name = self._fn_of.pop(key, None)
            if name is not None and getattr(r, "ok", False):
                self.observe(name, float(r.duration))

    def names_of(self, keys: list[str]) -> frozenset[str]:
        """The functions of in-flight ``keys`` (``""`` for a key of no known function)."""
        with self._lock:
            return frozenset(self._fn_of.get(k, "") for k in keys) if keys else frozenset({""})

    def known_tiny(self, name: str, seen: int = 3) -> bool:
        """True when ``name`` was timed at least ``seen`` times and its mean is tiny."""
        return self._seen.get(name, 0) >= seen and self._mean.get(name, TINY + 1) <= TINY

    def tiny_mean(self, keys: list[str], seen: int = 3) -> float | None:
        """The largest mean duration among the functions of in-flight ``keys``, when each
        of them is :meth:`known_tiny`; else None.

        None means "not known to be tiny": a new function, one seen too few times
        to trust, or a slow one.
        """
        names = self.names_of(keys)
        if not keys or not all(self.known_tiny(n, seen) for n in names):
            return None
        return max(self._mean[n] for n in names)

    def is_slow(self, name: str) -> bool:
        """True when ``name`` is known to take longer than :data:`TINY`."""
        return self._mean.get(name, 0.0) > TINY
