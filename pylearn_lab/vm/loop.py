"""``run``: the one scheduling loop.

It plans against the cache, then submits every node as soon as its inputs
exist (not level by level), collects receipts, stores results, emits events,
and returns the requested values in order. One loop serves every backend; the
backend's hints decide how data travels:

* in-process backends get live values and store results from the worker thread;
* backends whose workers see the cache directory get keys only: workers load
  inputs from the store (memory-mapped) and save outputs themselves;
* otherwise values travel with the tasks and the client stores them.

A failing node does not stop independent branches; at the end a
:class:`~pylearn_lab.errors.NodeError` names it (others attached). With a
shared cache, nodes are *claimed* before they are computed, so two runs that
want the same key at the same time compute it once (single flight).

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
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Any

from ..backends.registry import resolve_backend
from ..cache.cache import resolve_cache
from ..errors import BackendError, CacheError, NodeError, RunCancelledError
from ..graph.expr import Expr
from .events import Callback, Event, emit
from .handle import RunHandle
from .plan import make_plan
from .recipe import recipe
from .rewrite import apply_rewrites
from .task import Receipt, Task, execute, execute_batch

__all__ = ["run"]

log = logging.getLogger(__name__)

_CLAIM_TTL = 60.0
_POLL = 0.1


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
        A node raised (after every independent branch finished).
    """
    single = isinstance(exprs, Expr)
    if not single and (isinstance(exprs, (str, bytes)) or not isinstance(exprs, Iterable)):
        raise TypeError(
            f"run() expected an Expr or a list of Expr (call a @component to make one), "
            f"received {type(exprs).__name__} {exprs!r:.60}."
        )
    outs: list[Expr] = [exprs] if isinstance(exprs, Expr) else list(exprs)
    for i, e in enumerate(outs):
        if not isinstance(e, Expr):
            raise TypeError(
                f"run() expected Expr objects (call a @component to make one), received "
                f"{type(e).__name__} at position {i}: {e!r:.60}."
            )
    cb = list(callbacks)
    store = resolve_cache(cache)
    if wait and not cb and store is not None and all(e.call.cache for e in outs):
        # Everything requested already stored and nobody observing: no plan, no backend.
        values = []
        for e in outs:
            hit, value = store.lookup(e.key, count_miss=False)
            if not hit:
                break
            values.append(value)
        else:
            return values[0] if single else values
    if progress or (progress is None and wait):
        from .progress import ProgressBar

        cb.append(ProgressBar(delay=0.0 if progress else 1.0))
    state = _RunState(outs, single, resolve_backend(backend), store, cb,
                      max(0, int(retries)), timeout)
    state.node_timeout = node_timeout
    handle = RunHandle(state)
    state.handle = handle
    if wait:
        state.loop()
        return handle.result()
    threading.Thread(target=state.loop, name="pylearn-run", daemon=True).start()
    return handle


class _InputLost(Exception):
    """A cached input vanished between planning and use."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _RunState:
    """One run's bookkeeping (the loop itself is :meth:`loop`)."""

    def __init__(self, outs: list[Expr], single: bool, backend: Any, cache: Any,
                 callbacks: list[Callback], retries: int, timeout: float | None) -> None:
        self.outs, self.single = outs, single
        self.backend, self.cache, self.callbacks = backend, cache, callbacks
        self.retries, self.timeout = retries, timeout
        self.node_timeout: float | None = None
        self.handle: RunHandle | None = None
        self.cancelled = threading.Event()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.values: dict[str, Any] = {}
        self.errors: list[NodeError] = []
        self.counts = {"total": 0, "cached": 0, "done": 0, "failed": 0, "skipped": 0,
                       "running": 0, "queued": 0}
        self.time_saved = 0.0
        self.in_process = bool(getattr(backend, "in_process", False))
        self.via_store = False  # decided in the loop: asking workers must not block run(wait=False)
        self.claims = cache is not None and cache.shareable
        self._unclaim: list[str] = []

    # -- events -----------------------------------------------------------------------
    def _emit(self, kind: str, key: str, **info: Any) -> None:
        if not self.callbacks:
            return  # no observer: do not build events (a 1,000-node cached rerun emits 1,000)
        label = self.plan.graph[key].label if key else ""
        emit(self.callbacks, Event(kind, key, label, time.time(), info))

    # -- the loop ---------------------------------------------------------------------
    def loop(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # the handle reports it; a background thread must not die silently
            assert self.handle is not None
            self.handle._finish(exception=exc)
            if isinstance(exc, KeyboardInterrupt):
                raise

    def _loop(self) -> None:
        assert self.handle is not None
        started = time.monotonic()
        self.plan = plan = apply_rewrites(make_plan(self.outs, self.cache))
        sees = getattr(self.backend, "sees_store", None)
        if plan.order and not self.in_process and callable(sees):  # nothing to run: do not ask
            self.via_store = bool(self.cache is not None and self.cache.shareable
                                  and sees(self.cache))
        graph = plan.graph
        needed = set(plan.order)
        self.counts["total"] = len(graph)
        for k in graph:
            if k in plan.cached:
                self.counts["cached"] += 1
                self._emit("cached", k)
        for k in plan.order:
            self._emit("queued", k)
        self.counts["queued"] = len(plan.order)
        self.users = users = graph.dependents()
        waiting = {k: {d for d in graph.dependencies(k) if d in needed} for k in plan.order}
        ready: deque[str] = deque(k for k in plan.order if not waiting[k])
        finished: set[str] = set()
        self.waiting, self.ready, self.finished, self.needed = waiting, ready, finished, needed
        inflight: dict[cf.Future, list[str]] = {}
        attempts: dict[str, int] = {}
        claimed_elsewhere: dict[str, float] = {}
        held: set[str] = set()
        last_refresh = time.monotonic()
        reloads: dict[str, int] = {}

        def complete(k: str) -> None:
            finished.add(k)
            for u in users[k]:
                if u in waiting:
                    waiting[u].discard(k)
                    if not waiting[u] and u not in finished:
                        ready.append(u)

        def fail(k: str, err: NodeError | None) -> None:
            if err is not None:
                self.errors.append(err)
            finished.add(k)
            stack = [u for u in users[k] if u in waiting and u not in finished]
            while stack:
                u = stack.pop()
                if u in finished:
                    continue
                finished.add(u)
                self.counts["skipped"] += 1
                self.counts["queued"] -= 1
                self._emit("skipped", u, reason=f"input {graph[k].label} failed")
                stack.extend(x for x in users[u] if x in waiting and x not in finished)

        while True:
            if self.cancelled.is_set() or (self.timeout is not None and
                                           time.monotonic() - started > self.timeout):
                for f in inflight:
                    f.cancel()
                self._release(held)
                raise RunCancelledError(
                    "the run was cancelled" if self.cancelled.is_set() else
                    f"the run did not finish within timeout={self.timeout} s; finished nodes "
                    "are cached, run again to continue"
                )
            # 1. claim and submit what is ready
            batch_keys: list[str] = []
            candidates = []
            while ready:
                k = ready.popleft()
                if k not in finished:
                    candidates.append(k)
            to_claim = [k for k in candidates if self.claims and graph[k].cache]
            got = self.cache.try_claim_many(to_claim, self.owner, _CLAIM_TTL) if to_claim else set()
            for k in candidates:
                if k in got:
                    held.add(k)
                elif self.claims and graph[k].cache:
                    claimed_elsewhere[k] = time.monotonic()
                    continue
                batch_keys.append(k)
            if batch_keys and held:
                # stored by another run between our plan and our claim: do not compute it again
                for k in self.cache.contains_many([k for k in batch_keys if k in held]):
                    batch_keys.remove(k)
                    self._release_one(k, held)
                    self.counts["cached"] += 1
                    self.counts["queued"] -= 1
                    self._emit("cached", k, computed_by="another run")
                    complete(k)
            if batch_keys:
                self._submit_all(batch_keys, inflight)
            # 2. someone else computing a key we want: wait for it to appear (or the claim to lapse)
            for k in list(claimed_elsewhere):
                if self.cache.contains_many([k]):
                    del claimed_elsewhere[k]
                    self.counts["cached"] += 1
                    self.counts["queued"] -= 1
                    self._emit("cached", k, computed_by="another run")
                    complete(k)
                elif time.monotonic() - claimed_elsewhere[k] > _POLL:
                    if self.cache.try_claim(k, self.owner, _CLAIM_TTL):
                        del claimed_elsewhere[k]
                        held.add(k)
                        self._submit_all([k], inflight)
                    else:
                        claimed_elsewhere[k] = time.monotonic()
            if not inflight and not claimed_elsewhere and not ready:
                lost = None if self.errors else self._load_outputs()
                if lost is None:
                    break
                reloads[lost] = reloads.get(lost, 0) + 1
                if reloads[lost] > 2:
                    raise CacheError(
                        f"the result of {graph[lost].label} was stored but cannot be read back "
                        "(twice). Check the cache directory (Cache.verify()) or run with cache=False."
                    )
                self._reschedule(lost)  # damaged after planning: compute it again, never return it
                continue
            if self.claims and held and time.monotonic() - last_refresh > _CLAIM_TTL / 3:
                for k in held:
                    self.cache.try_claim(k, self.owner, _CLAIM_TTL)
                last_refresh = time.monotonic()
            # 3. collect finished tasks
            if not inflight:
                time.sleep(_POLL / 2)
                continue
            done, _ = cf.wait(list(inflight), timeout=_POLL, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                keys = inflight.pop(fut)
                try:
                    result = fut.result()
                except BaseException as exc:  # the worker, not user code, failed
                    if isinstance(exc, BackendError):  # no engines, cluster gone: retrying cannot help
                        for f in inflight:
                            f.cancel()
                        self._release(held)
                        raise
                    # a lost worker may have stored some of its nodes before dying: keep them
                    saved = (self.cache.contains_many([k for k in keys if graph[k].cache])
                             if self.cache is not None else set())
                    retry: list[str] = []
                    for k in keys:
                        attempts[k] = attempts.get(k, 0) + 1
                        if k in saved:
                            self._count_end("done")
                            self._emit("done", k, stored=True, recovered=True)
                            self._release_one(k, held)
                            complete(k)
                        elif attempts[k] <= self.retries:
                            log.warning("node %s lost its worker (%s); retry %d", graph[k].label,
                                        exc, attempts[k])
                            self.counts["running"] -= 1  # _submit_all counts it as started again
                            self.counts["queued"] += 1
                            retry.append(k)
                        else:
                            self._count_end("failed")
                            err = self._node_error(k, f"{type(exc).__module__}.{type(exc).__qualname__}",
                                                   f"the worker was lost: {exc}", "", None)
                            self._emit("failed", k, error=str(exc))
                            self._release_one(k, held)
                            fail(k, err)
                    if retry:
                        self._submit_all(retry, inflight)
                    continue
                receipts = result if isinstance(result, list) else [result]
                for r in receipts:
                    self._receive(r, complete, fail)
                    self._release_one(r.key, held)
            self._flush_releases()
            self._free_values(finished)
        self._release(held)
        self._finish_run(time.monotonic() - started)

    # -- submitting -------------------------------------------------------------------
    def _submit_all(self, keys: list[str], inflight: dict[cf.Future, list[str]]) -> None:
        hint = getattr(self.backend, "batch_hint", None)
        size = self.plan.batch or (hint(len(keys)) if callable(hint) else 1)
        size = max(1, int(size))
        for i in range(0, len(keys), size):
            chunk = keys[i : i + size]
            tasks = []
            for k in list(chunk):
                try:
                    tasks.append(self._task(k))
                except _InputLost as lost:
                    chunk.remove(k)
                    self._demote(lost.key, k)
            if not tasks:
                continue
            for k in chunk:
                self.counts["queued"] -= 1
                self.counts["running"] += 1
                self._emit("started", k)
            if len(tasks) == 1:
                fut = self.backend.submit(execute, tasks[0])
            else:
                fut = self.backend.submit(execute_batch, tasks)
            inflight[fut] = chunk

    def _task(self, k: str) -> Task:
        task = self._make_task(k)
        try:
            own = getattr(self.plan.graph.expr(k).component, "timeout", None)
        except KeyError:  # a graph of plain Calls: no component, no timeout of its own
            own = None
        limits = [t for t in (self.node_timeout, own) if t is not None]
        task.timeout = min(limits) if limits else None
        return task

    def _make_task(self, k: str) -> Task:
        call = self.plan.graph[k]
        cache = self.cache
        store = bool(cache is not None and call.cache)
        rec = recipe(self.plan.graph.expr(k)) if store else {}
        if self.in_process:
            inputs = {d: self._value(d) for d in call.inputs}
            return Task(call, inputs, cache, store, True, rec)
        if self.via_store:
            # keys only: the worker loads what is stored, values travel only for the rest
            inputs = {d: self.values[d] for d in call.inputs if d in self.values}
            return Task(call, inputs, cache.spec(), store, not call.cache, rec)
        inputs = {d: self._value(d) for d in call.inputs}
        return Task(call, inputs, None, False, True, rec)

    def _value(self, k: str) -> Any:
        if k in self.values:
            return self.values[k]
        try:
            value = self.cache.load(k)
        except KeyError:
            raise _InputLost(k) from None
        self.values[k] = value
        return value

    def _load_outputs(self) -> str | None:
        """Load every output; the key of one that cannot be loaded, else None."""
        for k in self.plan.outputs:
            try:
                self._value(k)
            except _InputLost:
                return k
        return None

    def _reschedule(self, k: str) -> None:
        self.finished.discard(k)
        self.values.pop(k, None)
        self.waiting.pop(k, None)
        self._demote(k, None)

    def _demote(self, lost: str, user: str | None) -> None:
        """``lost`` was planned as cached but cannot be loaded (evicted, broken): compute it."""
        graph = self.plan.graph
        self.plan.cached.discard(lost)
        if user is not None:
            self.waiting[user].add(lost)
        if lost in self.waiting:  # already scheduled by another user
            return
        self.needed.add(lost)
        self.counts["queued"] += 1
        missing = {d for d in graph.dependencies(lost)
                   if d not in self.finished and d not in self.plan.cached and d not in self.values}
        self.waiting[lost] = set(missing)
        self._emit("queued", lost, reason="cache entry could not be loaded")
        for d in missing:
            self._demote(d, None)
            self.waiting[lost].add(d)
        if not self.waiting[lost]:
            self.ready.append(lost)

    # -- receiving --------------------------------------------------------------------
    def _receive(self, r: Receipt, complete: Any, fail: Any) -> None:
        graph = self.plan.graph
        k = r.key
        if r.ok:
            if r.has_value:
                self.values[k] = r.value
                if (not self.in_process and not self.via_store and self.cache is not None
                        and graph[k].cache):
                    rec = recipe(graph.expr(k))
                    rec.update(duration=r.duration, host=r.host, pid=r.pid, engine=r.engine,
                               created=time.time())
                    self.cache.save(k, r.value, rec)
            if r.warning:
                log.warning(r.warning)
            self._count_end("done")
            self._emit("done", k, duration=r.duration, engine=r.engine, stored=r.stored)
            complete(k)
        elif r.missing_input:
            self.counts["running"] -= 1
            self.counts["queued"] += 1
            self._demote(r.missing_input, k)
        else:
            self._count_end("failed" if r.error_type != "skipped" else "skipped")
            if r.error_type == "skipped":
                self._emit("skipped", k, reason=r.error_msg)
                fail(k, None)
                return
            err = self._node_error(k, r.error_type, r.error_msg, r.traceback, r.engine)
            self._emit("failed", k, error=f"{r.error_type}: {r.error_msg}",
                       traceback=r.traceback, engine=r.engine)
            fail(k, err)

    def _node_error(self, k: str, etype: str, msg: str, tb: str, engine: str | None) -> NodeError:
        return NodeError(repr(self.plan.graph.expr(k)), k, etype, msg, tb, engine or None)

    def _count_end(self, kind: str) -> None:
        self.counts["running"] -= 1
        self.counts[kind] += 1

    def _free_values(self, finished: set[str]) -> None:
        # Drop intermediates no unfinished node needs (outputs are loaded at the end).
        if len(self.values) < 64:
            return
        outs = set(self.plan.outputs)
        users = self.users
        for k in list(self.values):
            if k not in outs and all(u in finished for u in users[k]):
                del self.values[k]

    def _release_one(self, k: str, held: set[str]) -> None:
        if k in held:
            held.discard(k)
            self._unclaim.append(k)  # released in one transaction per loop turn

    def _flush_releases(self) -> None:
        if self._unclaim:
            keys, self._unclaim = self._unclaim, []
            self.cache.release_many(keys, self.owner)

    def _release(self, held: set[str]) -> None:
        for k in list(held):
            self._release_one(k, held)
        self._flush_releases()

    # -- the end ----------------------------------------------------------------------
    def _finish_run(self, elapsed: float) -> None:
        assert self.handle is not None
        results: list[Any] = []
        if not self.errors:
            results = [self.values[k] for k in self.plan.outputs]
        info = {"counts": dict(self.counts), "elapsed": elapsed,
                "failed": [e.key for e in self.errors]}
        emit(self.callbacks, Event("finished", "", "", time.time(), info))
        if self.errors:
            first = self.errors[0]
            first.others = self.errors[1:]
            self.handle._finish(exception=first)
        else:
            self.handle._finish(result=results[0] if self.single else results)
