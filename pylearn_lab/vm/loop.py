"""``run``: the one scheduling loop.

It plans against the cache, then submits every node as soon as its inputs
exist (not level by level), collects receipts, stores results, emits events,
and returns the requested values in order. The loop itself only moves events
between the parts, each in its own module:

* :mod:`~pylearn_lab.vm.scheduler` -- the run's state, one object, changed by events;
* :mod:`~pylearn_lab.vm.claims` -- single flight through cache claims (leases);
* :mod:`~pylearn_lab.vm.submit` -- tasks, the data plane, batching of tiny nodes;
* :mod:`~pylearn_lab.vm.receive` -- receipts into events (and client-side storing);
* :mod:`~pylearn_lab.vm.retries` -- lost workers;
* :mod:`~pylearn_lab.vm.deadline` -- cancellation and timeouts;
* :mod:`~pylearn_lab.vm.heap` -- the heap that existed before a waited-for run, out of the collector's way.

A failing node does not stop independent branches; at the end a
:class:`~pylearn_lab.errors.NodeError` names it (others attached in
``.others``), is an instance of the node's own exception type too, and
carries in ``.partial`` the requested outputs that did finish. With a shared
cache, nodes are *claimed* before they are computed, so two runs that want
the same key at the same time compute it once (single flight).

Examples
--------
>>> from pylearn_lab.graph import component
>>> @component
... def sq(x: int) -> int:
...     return x * x
>>> run([sq(2), sq(3)], cache=False)
[4, 9]
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import queue
import threading
import time
from collections.abc import Iterable
from typing import Any

import cloudpickle

from ..backends.registry import resolve_backend
from ..cache.cache import resolve_cache
from ..errors import BackendError, CacheError, NodeError, Status
from ..graph.expr import Expr
from ..graph.seconds import check_seconds
from .claims import POLL, Leases
from .deadline import Deadline
from .events import Callback, Event, emit
from .handle import RunHandle
from .heap import frozen_heap
from .plan import make_plan
from .receive import receive, store_value
from .retries import Retries, saved_by_lost_worker
from .rewrite import apply_rewrites
from .scheduler import Scheduler
from .state import Counts, NodeState
from .submit import InputLost, Submitter
from .task import Receipt

__all__ = ["run"]

_SERVED = (NodeState.DONE, NodeState.CACHED)
_MAX_RELOADS = 2  # an output that cannot be read back after this many recomputes is an error


def run(
    exprs: Expr | Iterable[Expr],
    backend: Any = None,
    cache: Any = None,
    callbacks: Iterable[Callback] = (),
    *,
    wait: bool = True,
    progress: bool | None = None,
    retries: int = 1,
    timeout: float | None = None,
    node_timeout: float | None = None,
) -> Any:
    """Evaluate one expression or a list of them.

    Parameters
    ----------
    exprs : Expr or iterable of Expr
        What to compute.
    backend : str or Backend, optional
        ``"serial"`` (default), ``"threads"``, ``"processes"``, ``"ipyparallel"``,
        or any object with ``submit(fn, *args) -> Future``.
    cache : Cache, path, None or False
        None uses the session default cache; False computes without caching.
    callbacks : iterable of callables
        Observers of :class:`~pylearn_lab.vm.events.Event`.
    wait : bool
        False returns a :class:`~pylearn_lab.vm.handle.RunHandle` at once.
    progress : bool, optional
        Show a progress bar (None: for runs that last more than a second).
    retries : int
        Times a node is resubmitted when its *worker* is lost (not when user code raises).
    timeout : float, optional
        Seconds for the whole run; then it is cancelled.
    node_timeout : float, optional
        Seconds any one node may run (a component's own ``timeout=`` may be
        shorter). Backends that can stop a running node (ipyparallel) stop it
        and report a :class:`NodeError` naming it; others ignore it.

    Returns
    -------
    object or list or RunHandle
        The value (for one Expr), values in order (for a list), or a handle.

    Raises
    ------
    NodeError
        A node raised (after every independent branch finished). The error is
        also an instance of the node's own exception type; ``.others`` lists
        further failures and ``.partial`` maps each requested output key that
        finished to its value.
    OptionError
        ``timeout=`` or ``node_timeout=`` is not a number of seconds > 0 or None.
    """
    timeout = check_seconds("timeout", timeout, where="run")
    node_timeout = check_seconds("node_timeout", node_timeout, where="run")
    single = isinstance(exprs, Expr)
    outs = _check_exprs(exprs)
    cb = list(callbacks)
    store = resolve_cache(cache)
    if wait and not cb and store is not None:
        hit = _all_cached(outs, store)
        if hit is not None:  # everything stored and nobody observing: no plan, no backend
            return hit[0] if single else hit
    if progress or (progress is None and wait):
        from .progress import ProgressBar

        cb.append(ProgressBar(delay=0.0 if progress else 1.0))
    state = _Run(outs, single, resolve_backend(backend), store, cb, retries, timeout)
    state.node_timeout = node_timeout
    state.background = not wait
    handle = state.handle
    if wait:
        # the caller waits, so none of its objects can turn into garbage meanwhile: the
        # collector may walk the run's objects only (a background run, wait=False, could
        # hold on to what the notebook drops while it lasts, and does not)
        with frozen_heap():
            state.loop()
        return handle.result()
    threading.Thread(target=state.loop, name="pylearn-run", daemon=True).start()
    return handle


def _check_exprs(exprs: Any) -> list[Expr]:
    if isinstance(exprs, Expr):
        return [exprs]
    if isinstance(exprs, (str, bytes)) or not isinstance(exprs, Iterable):
        raise TypeError(
            f"run() expected an Expr or a list of Expr (call a @component to make one), "
            f"received {type(exprs).__name__} {exprs!r:.60}."
        )
    outs = list(exprs)
    for i, e in enumerate(outs):
        if not isinstance(e, Expr):
            raise TypeError(
                f"run() expected Expr objects (call a @component to make one), received "
                f"{type(e).__name__} at position {i}: {e!r:.60}."
            )
    return outs


def _all_cached(outs: list[Expr], store: Any) -> list[Any] | None:
    """The values of ``outs`` when every one is stored, else None (one lookup each)."""
    values = []
    for e in outs:
        call = e.call
        if not call.cache:
            return None
        hit, value = store.lookup(call.key, count_miss=False)
        if not hit:
            return None
        values.append(value)
    return values


class _Run:
    """One run: the loop that feeds the :class:`Scheduler` events (see the module docs)."""

    def __init__(self, outs: list[Expr], single: bool, backend: Any, cache: Any,
                 callbacks: list[Callback], retries: int, timeout: float | None) -> None:
        self.outs, self.single = outs, single
        self.backend, self.cache, self.callbacks = backend, cache, callbacks
        self.deadline = Deadline(timeout)
        self.leases = Leases(cache)
        self.retries = Retries(retries)
        self.reloads: dict[str, int] = {}
        self.sched: Scheduler | None = None
        self.inflight: dict[cf.Future, list[str]] = {}
        self.handle = RunHandle(self)
        self.node_timeout: float | None = None
        self.background = False  # run(wait=False): in-process keys are re-checked after compute

    # -- what the handle sees ---------------------------------------------------------
    @property
    def counts(self) -> Counts:
        """The scheduler's counts (all zero while planning)."""
        return self.sched.counts if self.sched is not None else Counts()

    def cancel(self) -> None:
        """Stop submitting; the loop raises RunCancelledError on its next turn."""
        self.deadline.cancel()

    # -- the loop ---------------------------------------------------------------------
    def loop(self) -> None:
        """Run to the end and settle the handle (never lets an exception die silently)."""
        try:
            self._drive()
        except BaseException as exc:  # the handle reports it; a background thread must not die silently
            self.handle._finish(exception=exc)
            if isinstance(exc, KeyboardInterrupt):
                raise

    def _drive(self) -> None:
        plan = apply_rewrites(make_plan(self.outs, self.cache))
        self.sched = sched = Scheduler(plan, self.callbacks)
        self.submitter = Submitter(sched, self.backend, self.cache)
        self.submitter.node_timeout = self.node_timeout
        self.submitter.recheck = self.background
        self.submitter.choose_data_plane()
        try:
            while True:
                self.deadline.check()
                self._dispatch(sched.take_ready())
                self._poll_claims()
                if not self.inflight and not self.leases.elsewhere and sched.idle and \
                        not self.submitter.backlog:
                    if self._outputs_loadable():
                        break
                    continue
                self.leases.refresh()
                self._collect()
                self.submitter.pump(self.inflight)  # room freed: send more of the backlog
                self.leases.flush()
                sched.free_values()
        except BaseException:
            self._stop_inflight()
            raise
        self.leases.release_all()
        self._finish()

    def _stop_inflight(self) -> None:
        """The run stops (cancelled, timed out, interrupted): cancel what has not started;
        nodes already running (a thread cannot be stopped) keep their claims until they
        end. Released at once, a run started again computed the same node a second time
        while the first was still storing it (found by the red team)."""
        running: list[str] = []
        for f, keys in self.inflight.items():
            if f.cancel():
                continue
            held = [k for k in keys if k in self.leases.held]
            if held:
                running += held
                f.add_done_callback(functools.partial(self._release_late, held))
        self.leases.held.difference_update(running)
        self.leases.release_all()

    def _release_late(self, keys: list[str], future: cf.Future) -> None:
        if not self.submitter.in_process and not self.submitter.via_store:
            try:
                self._store_late(keys, future)
            except Exception:  # the value is lost: a later run computes it again
                pass
        try:  # in a worker's thread, after the node stored its result
            self.cache.release_many(keys, self.leases.owner)
        except Exception:  # a claim left lapses after CLAIM_TTL: never fail a worker
            pass

    def _store_late(self, keys: list[str], future: cf.Future) -> None:
        """Store what a node that ran on after the run stopped computed, when the client
        is the one that stores (values travel back): nobody else would, and a run
        started again computed it a second time (found by the red team)."""
        if future.cancelled() or future.exception() is not None:
            return
        result = future.result()
        if isinstance(result, bytes):  # execute_pickled
            result = cloudpickle.loads(result)
        sched = self.sched
        if sched is None:
            return
        for r in result if isinstance(result, list) else [result]:
            if isinstance(r, Receipt) and r.ok and r.has_value and r.key in keys and \
                    sched.graph[r.key].cache:
                store_value(sched, self.cache, r)

    def _dispatch(self, keys: list[str]) -> None:
        """Claim ready nodes and submit those this run computes."""
        if not keys:
            return
        sched, leases = self.sched, self.leases
        assert sched is not None
        graph = sched.graph
        go, wait = leases.claim(keys, cacheable=lambda k: graph[k].cache)
        for k in wait:
            sched.on_elsewhere(k)
        if go and leases.held:
            # stored by another run between our plan and our claim: do not compute it again
            for k in leases.stored(go):
                go.remove(k)
                leases.release(k)
                sched.on_served(k)
        if go:
            self.submitter.submit(go, self.inflight)

    def _poll_claims(self) -> None:
        """Keys other runs compute: take them when stored, compute them when the claim lapsed."""
        if not self.leases.elsewhere:
            return
        assert self.sched is not None
        stored, mine = self.leases.poll()
        for k in stored:
            self.sched.on_served(k)
        if mine:
            self.submitter.submit(mine, self.inflight)

    def _collect(self) -> None:
        """Wait a little for finished futures and apply what they bring."""
        if not self.inflight:
            time.sleep(POLL / 2)
            return
        finished = self.submitter.finished
        try:
            fut = finished.get(timeout=POLL)
        except queue.Empty:
            return
        while True:
            keys = self.inflight.pop(fut, None)
            if keys is not None:  # None: a future cancelled at the end of an earlier turn
                self._settle(fut, keys)
            try:
                fut = finished.get_nowait()
            except queue.Empty:
                return

    def _settle(self, fut: cf.Future, keys: list[str]) -> None:
        try:
            result = fut.result()
            if isinstance(result, bytes):  # execute_pickled: receipts travelled cloudpickled
                result = cloudpickle.loads(result)
        except BaseException as exc:  # the worker, not user code, failed
            if isinstance(exc, KeyboardInterrupt):
                # a node interrupted in a worker thread stops the run, as on the serial
                # backend (execute re-raises it); it was retried as a lost worker
                raise
            self._worker_lost(keys, exc)
            return
        receipts = result if isinstance(result, list) else [result]
        if not receipts or not all(isinstance(r, Receipt) for r in receipts):
            # a backend that does not run what it is given (a user's executor resolving
            # its futures itself) would otherwise fail the run with an AttributeError
            raise BackendError(
                f"{type(self.backend).__name__}: a future returned by submit() brought "
                f"{type(result).__name__} {result!r:.60}, not the result of the submitted "
                "call (a node receipt). submit(fn, *args) must return a Future of fn(*args).")
        self._receipts(receipts)

    def _receipts(self, receipts: list[Any]) -> None:
        assert self.sched is not None
        client_stores = not self.submitter.in_process and not self.submitter.via_store
        for r in receipts:
            receive(self.sched, r, self.cache, client_stores)
            self.leases.release(r.key)

    def _worker_lost(self, keys: list[str], exc: BaseException) -> None:
        assert self.sched is not None
        saved = saved_by_lost_worker(self.sched, self.cache, keys)
        retry = self.retries.on_worker_lost(self.sched, keys, exc, saved)
        for k in keys:
            if k not in retry:
                self.leases.release(k)
        if retry:
            self.submitter.submit(retry, self.inflight)

    def _outputs_loadable(self) -> bool:
        """Every output in hand (True), or one was lost and is rescheduled (False)."""
        assert self.sched is not None
        if self.sched.errors:
            return True
        for k in self.sched.plan.outputs:
            try:
                self.submitter.value(k)
            except InputLost:
                break
        else:
            return True
        n = self.reloads[k] = self.reloads.get(k, 0) + 1
        if n > _MAX_RELOADS:
            raise CacheError(
                f"the result of {self.sched.label(k)} was stored but cannot be read back "
                "(twice). Check the cache directory (Cache.verify()) or run with cache=False."
            )
        self.sched.on_output_lost(k)  # damaged after planning: compute it again, never return it
        return False

    # -- the end ----------------------------------------------------------------------
    def _account(self) -> None:
        """Tell the cache what this run did: nodes served are hits, nodes computed misses.

        The time saved is the recorded compute time of the entries served (read
        from their records: one index query).
        """
        cache, sched = self.cache, self.sched
        if cache is None or sched is None or not hasattr(cache, "count_outcomes"):
            return
        graph = sched.graph
        served = [k for k, s in sched.state.items() if s is NodeState.CACHED and graph[k].cache]
        computed = sum(1 for k, s in sched.state.items()
                       if s is NodeState.DONE and graph[k].cache)
        saved = 0.0
        if served:
            try:
                saved = float(sum(r.duration or 0.0 for r in cache.records(keys=served)))
            except Exception:  # the counters must never fail a run
                saved = 0.0
        cache.count_outcomes(len(served), computed, saved)

    def _finish(self) -> None:
        sched = self.sched
        assert sched is not None
        self._account()
        info = {"counts": sched.counts.as_dict(), "elapsed": self.deadline.elapsed(),
                "failed": [e.key for e in sched.errors]}
        emit(self.callbacks, Event(Status.FINISHED, "", "", time.time(), info))
        if sched.errors:
            self.handle._finish(exception=self._failure(sched.errors))
            return
        results = [sched.values[k] for k in sched.plan.outputs]
        self.handle._finish(result=results[0] if self.single else results)

    def _failure(self, errors: list[NodeError]) -> NodeError:
        """The first error, with the others and the partial results attached."""
        first = errors[0]
        first.others = errors[1:]
        assert self.sched is not None
        for k in self.sched.plan.outputs:
            if self.sched.state[k] in _SERVED and k not in self.sched.values:
                try:  # best effort: what cannot be loaded is simply not in .partial
                    self.submitter.value(k)
                except InputLost:
                    pass
        first.partial = self.sched.partial()
        return first
