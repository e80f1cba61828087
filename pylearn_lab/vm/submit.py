"""Sending ready nodes to the backend: tasks, the data plane, batching of tiny nodes.

:class:`Submitter` turns keys into :class:`~pylearn_lab.vm.task.Task` objects
and submits them. Everything it decides comes from the backend's
:class:`~pylearn_lab.backends.capabilities.Capabilities`, read once per run
(:func:`~pylearn_lab.backends.capabilities.capabilities_of`); the backend
itself only runs callables.

How the data travels is decided once per run:

* in-process backends get live values (and the live cache);
* backends whose workers see the cache get keys only (the cache *spec*):
  workers load inputs from the store and save outputs themselves;
* otherwise values travel with the tasks and the client stores them.

Claimed ready nodes wait in :attr:`Submitter.backlog` and go out while the
backend has room for them: at most ``Capabilities.max_pending`` submissions
outstanding (no limit by default; ipyparallel reports a window of 16 tasks
per engine, at least 64), so a sweep of 100,000 independent nodes keeps a
window of tasks, futures and payloads in the notebook rather than all of
them, and the collector has that much less to walk. The loop sends more
(:meth:`Submitter.pump`) as earlier ones finish.

How many nodes go in one task: the plan's ``batch``, else the backend's
``batch_hint`` (asked with the whole backlog); each chunk of ready nodes is then split by
:func:`~pylearn_lab.vm.batching.groups` (timeout nodes and known-slow
functions alone). A group goes to the backend's task plane when it has one
(``submit_tasks``), else as ``backend.submit(execute_batch, tasks)``
(``execute`` for one node). A backend that pickles with the standard
library (``pickles_by_value=False``, e.g. a plain ``ProcessPoolExecutor``)
cannot send notebook functions or components by value: its tasks travel
cloudpickled (:func:`~pylearn_lab.vm.task.execute_pickled`), and the loop
unpickles the receipts. So do the tasks of any backend not built in here that
says it is not in-process and has no task plane: values travel to such a
backend live, and nothing proves it copies them -- a user's executor that runs
each call at once in this process (or a ``Backend`` subclass that forgot
``in_process = True``) handed one upstream object to every reader, and a reader
that changed it in place changed its siblings' stored results. Pickling the
tasks here makes every reader's input its own copy whatever the executor does
(the cost: one pickling by the VM, which such a backend had to do anyway, plus
a copy of the pickled bytes). A group that cannot be pickled at all fails as its
nodes' errors (:func:`~pylearn_lab.vm.batching.unpicklable_receipts`), and
the run goes on.

Examples
--------
>>> import concurrent.futures as cf
>>> from pylearn_lab.graph import component
>>> from pylearn_lab.vm.plan import make_plan
>>> from pylearn_lab.vm.scheduler import Scheduler
>>> from pylearn_lab.backends.registry import resolve_backend
>>> @component
... def two() -> int:
...     return 2
>>> s = Scheduler(make_plan([two()], cache=None))
>>> sub = Submitter(s, resolve_backend("serial"), cache=None)
>>> inflight = {}
>>> sub.submit(s.take_ready(), inflight)
>>> [f.result().value for f in inflight], sub.finished.get(timeout=5) in inflight
([2], True)
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import functools
import queue
from typing import Any

import numpy as np

from ..backends.capabilities import Capabilities, capabilities_of
from ..errors import BackendError, UnpicklableError
from ..graph.fresh import check_fresh
from .batching import groups, unpicklable_receipts
from .isolate import SharedIteratorError, guarded, guarded_call
from .recipe import recipe
from .scheduler import Scheduler
from .state import NodeState
from .task import Receipt, Task, execute, execute_batch, execute_pickled

__all__ = ["InputLost", "Submitter"]


class InputLost(Exception):
    """A cached input vanished between planning and use (the loop recomputes it)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class Submitter:
    """Builds tasks for one run and submits them (see the module docstring)."""

    __slots__ = ("sched", "backend", "cache", "caps", "in_process", "via_store", "finished",
                 "node_timeout", "recheck", "backlog", "_handed", "_outputs", "_pickle", "_lent", "_views")

    def __init__(self, sched: Scheduler, backend: Any, cache: Any) -> None:
        self.sched, self.backend, self.cache = sched, backend, cache
        # futures land here as they finish (their done-callback puts them): the loop
        # waits on this queue, O(1) per future, instead of cf.wait over everything in flight
        self.finished: queue.SimpleQueue[cf.Future] = queue.SimpleQueue()
        self.caps: Capabilities = capabilities_of(backend)  # read once per run
        self.in_process = self.caps.in_process
        self.via_store = False
        self.node_timeout: float | None = None  # run(node_timeout=); see _timeout
        #: re-check in-process keys after the compute too (a background run: the caller's
        #: code may change an input the node is reading, e.g. a literal array in place)
        self.recheck = False
        #: claimed ready nodes not sent yet (the backend's window is full)
        self.backlog: collections.deque[str] = collections.deque()
        self._handed: dict[str, int] = {}  # in process: readers each input was handed to so far
        self._lent: set[str] = set()  # inputs whose value itself went to their last reader
        self._views: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # literal arrays, locked once
        self._outputs = frozenset(sched.plan.outputs)
        # tasks the VM cloudpickles itself (module docstring): the standard library's
        # pickle cannot carry them, or nothing proves the backend copies live values
        self._pickle = not self.caps.pickles_by_value or (
            not self.in_process and self.caps.task_plane is None
            and not type(backend).__module__.startswith("pylearn_lab."))

    def choose_data_plane(self) -> None:
        """Ask the backend whether its workers see the cache (asked only when there is work:
        asking a cluster may block, and a fully cached run must not)."""
        plane = self.caps.task_plane
        sees = plane.sees_store if plane is not None else self.caps.sees_store
        if self.sched.plan.order and not self.in_process and sees is not None:
            self.via_store = bool(self.cache is not None and self.cache.shareable
                                  and sees(self.cache))

    def batch_size(self, n: int) -> int:
        """Nodes per future for ``n`` ready nodes (the plan's hint, else the backend's)."""
        hint = self.caps.batch_hint
        size = self.sched.plan.batch or (hint(n) if hint is not None else 1)
        if isinstance(size, bool) or not isinstance(size, (int, float)) or size != size:
            # a backend's report is its author's code: say whose, not int()'s TypeError
            raise BackendError(
                f"{type(self.backend).__name__}: batch_hint({n}) (or a rewrite rule's plan.batch) "
                f"must be a number of nodes per task, received {type(size).__name__} "
                f"{size!r:.40}. Return an int >= 1 (1: one node per task).")
        return max(1, int(size))

    def submit(self, keys: list[str], inflight: dict[cf.Future, list[str]]) -> None:
        """Queue ``keys`` (claimed, ready) and send what the backend has room for now;
        each future's keys are recorded in ``inflight``."""
        self.backlog.extend(keys)
        self.pump(inflight)

    def pump(self, inflight: dict[cf.Future, list[str]]) -> None:
        """Send backlog nodes in chunks while fewer than ``max_pending`` are outstanding."""
        backlog, limit = self.backlog, self.caps.max_pending
        if not backlog or (limit is not None and len(inflight) >= limit):
            return
        size = self.batch_size(len(backlog))
        while backlog and (limit is None or len(inflight) < limit):
            chunk = self._take(size)
            if chunk:
                self._submit_chunk(chunk, inflight)

    def _take(self, n: int) -> list[str]:
        """Up to ``n`` backlog keys still ready. One skipped meanwhile (an input it had
        was lost and failed when recomputed) or sent back to wait for an input is
        dropped: the scheduler readies it again if it can ever run."""
        backlog, state = self.backlog, self.sched.state
        out: list[str] = []
        while backlog and len(out) < n:
            k = backlog.popleft()
            # only these two: a node polled back from another run's lapsed claim is still
            # ELSEWHERE, a retried one RUNNING, and both must go
            if state[k] not in (NodeState.SKIPPED, NodeState.WAITING):
                out.append(k)
        return out

    def _submit_chunk(self, chunk: list[str], inflight: dict[cf.Future, list[str]]) -> None:
        tasks, sent, refused = [], [], []
        for k in chunk:
            try:
                task = self.task(k)
                task.timeout = self._timeout(k)
                tasks.append(task)
                sent.append(k)
            except InputLost as lost:
                self.sched.on_input_lost(lost.key, k)
            except SharedIteratorError as exc:  # this reader fails; the run goes on
                refused.append(Receipt(k, ok=False, error_type="builtins.TypeError",
                                       error_msg=str(exc)))
        if refused:
            self.sched.on_submitted([r.key for r in refused])
            done: cf.Future = cf.Future()
            done.set_result(refused)
            inflight[done] = [r.key for r in refused]
            done.add_done_callback(self.finished.put)
        if not tasks:
            return
        self.sched.on_submitted(sent)
        for group in groups(tasks, self.caps.is_slow) if len(tasks) > 1 else [tasks]:
            fut = self._send(group)
            inflight[fut] = [t.call.key for t in group]
            fut.add_done_callback(self.finished.put)

    def _send(self, tasks: list[Task]) -> cf.Future:
        """One future for ``tasks``: the task plane, else ``backend.submit`` (module doc)."""
        plane = self.caps.task_plane
        try:
            if plane is not None:
                return plane.submit_tasks(tasks)
            if self._pickle:
                import cloudpickle

                try:
                    payload = cloudpickle.dumps(tasks[0] if len(tasks) == 1 else tasks, protocol=5)
                except Exception as exc:
                    raise UnpicklableError("the task", tasks, exc) from exc
                return self.backend.submit(execute_pickled, payload)
            if len(tasks) == 1:
                return self.backend.submit(execute, tasks[0])
            return self.backend.submit(execute_batch, tasks)
        except UnpicklableError as exc:
            fut: cf.Future = cf.Future()
            fut.set_result(unpicklable_receipts([t.call.key for t in tasks], exc))
            return fut
        except BackendError:
            raise
        except Exception as exc:
            # a backend's own submit failed (a pool closed by its ``with`` block says
            # "cannot schedule new futures after shutdown"): that is the backend's
            # error, not the node's, and it must say so in the error tree's words
            raise BackendError(
                f"{type(self.backend).__name__}.submit() refused a task "
                f"({type(exc).__name__}: {exc}). Check that the backend is still open (a "
                "pool used after its `with` block is shut down), or pass backend=\"threads\"."
            ) from exc

    def _timeout(self, k: str) -> float | None:
        """The shorter of ``run(node_timeout=)`` and the node's component ``timeout=``."""
        try:
            own = getattr(self.sched.graph.expr(k).component, "timeout", None)
        except KeyError:  # a graph of plain Calls: no component, no timeout of its own
            own = None
        limits = [t for t in (self.node_timeout, own) if t is not None]
        return min(limits) if limits else None

    def task(self, k: str) -> Task:
        """The task computing node ``k``; raises :class:`InputLost` for a vanished input."""
        graph = self.sched.graph
        call = graph[k]
        cache = self.cache
        store = bool(cache is not None and call.cache)
        if store:  # never store under a key its live arguments or code no longer match
            check_fresh(graph.expr(k))
        rec = recipe(graph.expr(k)) if store else {}
        if self.in_process:
            # literal arrays and objects are the user's, shared by every node built from them
            call = guarded_call(call, self._ignored(k), self._views)
            fresh = functools.partial(check_fresh, graph.expr(k)) if store and self.recheck \
                else None
            return Task(call, {d: self._input(d) for d in call.inputs}, cache, store, True, rec,
                        fresh=fresh)
        if self.via_store:
            # keys only: the worker loads what is stored; values travel only for the rest
            values = self.sched.values
            inputs = {d: values[d] for d in call.inputs if d in values}
            return Task(call, inputs, cache.spec(), store, not call.cache, rec)
        return Task(call, {d: self.value(d) for d in call.inputs}, None, False, True, rec)

    def _ignored(self, k: str) -> Any:
        """The parameters node ``k``'s component passes on unkeyed (``ignore=``)."""
        try:
            return getattr(self.sched.graph.expr(k).component, "ignore", ())
        except KeyError:  # a graph of plain Calls: no component
            return ()

    def _input(self, d: str) -> Any:
        """Input ``d`` for an in-process reader: one it cannot change for anyone else
        (:mod:`~pylearn_lab.vm.isolate`). Its last reader gets the value itself when
        nobody asked for it as an output (arrays still read-only, as when cached): every
        other reader's copy is made by then, so the copies cost readers - 1, not readers.

        Asked again after that (a retried node: its worker was lost after the node
        ran), the value may have been changed by the first attempt, so it is read
        again from the cache, else computed again (:class:`InputLost`): a retry
        that appended to a list a second time stored a wrong result."""
        if d in self._lent:
            self._lent.discard(d)
            self.sched.values.pop(d, None)
        value = self.value(d)
        n = self._handed[d] = self._handed.get(d, 0) + 1
        if n >= len(self.sched.users.get(d, ())) and d not in self._outputs \
                and type(value) is not np.ndarray:
            self._lent.add(d)
            return value
        return guarded(value)

    def value(self, k: str) -> Any:
        """The value of ``k``: in hand, else loaded from the cache (and kept)."""
        values = self.sched.values
        if k in values:
            return values[k]
        if self.cache is None:
            raise InputLost(k)
        try:
            value = self.cache.load(k, count=False)  # counted per run in _account
        except KeyError:
            raise InputLost(k) from None
        values[k] = value
        return value
