"""The ipyparallel backend's task plane: how the VM's tasks reach engines.

The VM sends every task of a run here
(:meth:`IppTaskPlane.submit_tasks`, see
:class:`~pylearn_lab.backends.capabilities.TaskPlane`), grouped as it
decided. Tasks that carry a cache spec take the *store data plane*: engines
that see the cache directory read their inputs from blob files and write
their outputs as blob files, returning receipts; the client alone writes the
index, in batches (:mod:`.blobs`, :mod:`.adopt`). Other tasks travel with
their values (``execute`` / ``execute_batch``). Either way the plane names
the node keys to the dispatcher, so a timeout, an engine that cannot
unpickle the task or a lost engine is reported per node (:mod:`.jobs`).

The backend's :meth:`~.backend.IPyParallelBackend.submit` only runs
callables; this module is where the ipyparallel package touches VM types.

Examples
--------
>>> from pylearn_lab.backends.capabilities import TaskPlane
>>> issubclass(IppTaskPlane, TaskPlane)
True
>>> from pylearn_lab.backends.ipp import IPyParallelBackend
>>> with IPyParallelBackend.start(n=2) as cluster:          # doctest: +SKIP
...     isinstance(cluster.capabilities().task_plane, IppTaskPlane)
True
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
from typing import TYPE_CHECKING, Any

from ..remote_future import RemoteFuture, relay
from .adopt import prepare
from .blobs import run_with_blobs, to_wire

if TYPE_CHECKING:
    from .backend import IPyParallelBackend

__all__ = ["IppTaskPlane"]

log = logging.getLogger(__name__)


class IppTaskPlane:
    """The :class:`~pylearn_lab.backends.capabilities.TaskPlane` of one
    :class:`~.backend.IPyParallelBackend` (it shares the backend's dispatcher,
    engine verdicts, root watch and indexer)."""

    def __init__(self, backend: IPyParallelBackend) -> None:
        self._backend = backend
        self._roots = backend._roots
        self._visibility = backend._visibility
        self._indexer = backend._indexer
        self._jobs = backend._jobs
        self._caches = backend._caches

    @property
    def data_plane(self) -> str:
        """The backend's ``data_plane=`` ("auto", "store" or "ship")."""
        return self._backend.data_plane

    def sees_store(self, cache: Any) -> bool:
        """The backend's :meth:`~.backend.IPyParallelBackend.sees_store`."""
        return self._backend.sees_store(cache)

    def seeing_engines(self, cache: Any) -> set[int]:
        return self._backend.seeing_engines(cache)

    def _send(self, fn: Any, args: tuple[Any, ...], **kw: Any) -> cf.Future:
        return self._backend._send(fn, args, **kw)

    def submit_tasks(self, tasks: list[Any]) -> cf.Future:
        """Send ``tasks`` as one engine task; the future's result is their receipts.

        Raises :class:`~pylearn_lab.errors.UnpicklableError` when they cannot be
        pickled (the VM makes that the nodes' error).
        """
        gate = self._backend._gate()
        if gate is not None:
            return gate
        if tasks and all(isinstance(getattr(t, "cache", None), tuple) for t in tasks):
            return self._submit_via_store(tasks)
        from ...vm.task import execute, execute_batch

        fn, arg = (execute_batch, tasks) if len(tasks) > 1 else (execute, tasks[0])
        return self._send(fn, (arg,), keys=[t.call.key for t in tasks], tasks=tasks)

    def _submit_via_store(self, tasks: list[Any]) -> cf.Future:
        """Tasks whose data goes through the store: see :mod:`.blobs` and :mod:`.adopt`."""
        spec = tasks[0].cache
        cache = self._caches.get(spec[1])
        if cache is None:
            from ...cache.cache import Cache

            cache = self._caches[spec[1]] = Cache.from_spec(spec)
        return self._send_via_store(tasks, cache)

    def _send_via_store(self, tasks: list[Any], cache: Any) -> cf.Future:
        location = cache.location
        # a directory deleted or replaced under the run: engines touch no file of it
        usable = self._roots.ok(location)
        seers = self.seeing_engines(cache) - set(self._jobs.excluded) if usable else set()
        plan, targets = prepare(tasks, cache, self._visibility.engine_path(location), seers,
                                trusted=self.data_plane == "store")
        # the recipe half of each record stays here (the engine adds how the call went):
        # it would otherwise be pickled out and back for every node
        recipes = {t.call.key: t.record for t in tasks}
        funcs = {id(t.call.func): t.call.func for t in tasks}
        # user code is looked for where it can be: the functions, and arguments that are
        # functions, classes or containers (not in thousands of plain literals)
        scan = [run_with_blobs, *funcs.values(),
                *[a for t in tasks for a in (*t.call.args, *t.call.kwargs.values())
                  if not isinstance(a, (int, float, str, bytes, bool, type(None)))]]
        job = self._send(run_with_blobs, (to_wire(tasks), plan, len(tasks) > 1),
                         targets=targets, keys=[t.call.key for t in tasks], scan=scan,
                         tasks=tasks)
        out = _Adopted(job)

        def adopt(f: cf.Future) -> None:
            ok, result = relay(f, out)
            if not ok:
                return
            receipts = result if isinstance(result, list) else [result]
            self._check_missing(cache, plan, receipts)
            rows = getattr(result, "rows", [])
            for row in rows:
                row["record"] = {**recipes.get(row["key"], {}), **row["record"]}
            store = usable and self._roots.ok(location)
            if not store:
                self._roots.warn(location)
            self._indexer.enqueue(cache, receipts, rows, store=store, into=out)

        job.add_done_callback(adopt)
        return out


    def _check_missing(self, cache: Any, plan: Any, receipts: list[Any]) -> None:
        """An engine that could not read a blob the client reads is blind from now on."""
        from .jobs import engine_of_receipts

        for r in receipts:
            k = getattr(r, "missing_input", "")
            if not k or plan.refs.get(k, ("",))[0] != "blob":
                continue
            engine = engine_of_receipts([r])
            hit, _ = cache.lookup(k, count_miss=False)  # drops the entry if it is broken
            if hit and engine is not None:
                self._visibility.revoke(cache.location, engine, f"could not read blob of {k[:12]}")
                log.warning("engine %s could not read a blob the client reads; it is treated "
                            "as blind to %s from now on", engine, cache.location)



class _Adopted(RemoteFuture):
    """The future the VM sees for a store-plane task: receipts once their rows are indexed."""

    def __init__(self, job: cf.Future) -> None:
        super().__init__()
        self.job = job

    def cancel(self) -> bool:
        if not self.job.cancel() and not self.job.done():
            return False  # running on an engine: its rows are still indexed when it ends
        return super().cancel()
