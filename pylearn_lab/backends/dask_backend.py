"""``DaskBackend``: run graphs on a dask.distributed cluster.

The same data plane as :class:`~pylearn_lab.backends.ipp.IPyParallelBackend`,
built from the same pieces: a task is one cloudpickle payload with user code by
value (:func:`~pylearn_lab.backends.ipp.packing.pack`), run on a worker by
:func:`~pylearn_lab.backends.ipp.remote.call_pickled`; workers that see the
cache directory (the token probe of
:class:`~pylearn_lab.backends.ipp.store.StoreProbe`) load inputs from the store
and write their outputs there, returning receipts; otherwise values travel with
tasks and the client stores them. Tiny nodes share tasks (the VM batches them
from :meth:`DaskBackend.capabilities`), slow ones go one per task.

Failures keep the VM's contract: user errors come back inside receipts (never
retried); a worker that dies mid-task is first retried by dask's scheduler on
another worker (``distributed.scheduler.allowed-failures``), then reported to
the VM as a lost worker (``KilledWorker``), which retries it ``retries=``
times more; no workers for ``engine_timeout`` seconds, or a scheduler that is
gone, fail the pending tasks with :class:`~pylearn_lab.errors.NoEnginesError`
or :class:`~pylearn_lab.errors.ClusterGoneError` instead of hanging.

``run(..., backend=client)`` with a ``distributed.Client`` uses
``DaskBackend.for_client(client)`` (one backend per client, never closing it).

Examples
--------
>>> import pylearn_lab as pl
>>> @pl.component
... def sq(x: int) -> int:
...     return x * x
>>> with DaskBackend.start(n=2) as dask_cluster:              # doctest: +SKIP
...     pl.run([sq(i) for i in range(4)], backend=dask_cluster, cache=False)
[0, 1, 4, 9]
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import functools
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any


from ..errors import BackendError, ClusterGoneError, NoEnginesError, OptionError, UnpicklableError
from ..graph.seconds import check_seconds
from .capabilities import Capabilities
from .ipp.batch import NodeTimes, function_name
from .ipp.packing import pack
from .ipp.remote import call_pickled
from .ipp.store import StoreProbe
from .local import Backend
from .remote_future import RemoteFuture, close_client_and_cluster, failed
from .task_plane import KeyedPlane

__all__ = ["DaskBackend"]

log = logging.getLogger(__name__)

DATA_PLANES = ("auto", "store", "ship")
_SCATTER_BYTES = 1 << 20  # bigger payloads go to a worker once (scatter), not via the scheduler
_FOR_CLIENT: "weakref.WeakKeyDictionary[Any, DaskBackend]" = weakref.WeakKeyDictionary()
_FOR_CLIENT_LOCK = threading.Lock()


class DaskBackend(Backend):
    """A :class:`~pylearn_lab.backends.local.Backend` on a ``distributed.Client``.

    Parameters
    ----------
    client : distributed.Client
        A connected client (synchronous, as a notebook makes it).
    cluster : object, optional
        The cluster this backend started (closed by :meth:`stop`).
    owns_client : bool
        Close ``client`` on :meth:`stop` (False for a client the user made).
    data_plane : {"auto", "store", "ship"}
        ``"auto"`` asks the workers whether they see the cache directory.
    batch_cap : int
        At most this many tiny nodes per task.
    engine_timeout : float
        Seconds with zero workers before pending tasks fail with ``NoEnginesError``.
    health_timeout : float
        Seconds the client may spend reconnecting to its scheduler before pending
        tasks fail with ``ClusterGoneError``.
    """

    name = "dask"
    in_process = False

    def __init__(self, client: Any, *, cluster: Any = None, owns_client: bool = False,
                 data_plane: str = "auto", batch_cap: int = 64,
                 engine_timeout: float = 10.0, health_timeout: float = 10.0) -> None:
        if data_plane not in DATA_PLANES:
            raise OptionError(f"data_plane= expected one of {DATA_PLANES}, received {data_plane!r}")
        for name, value in (("engine_timeout", engine_timeout), ("health_timeout", health_timeout)):
            check_seconds(name, value, where="DaskBackend", allow_none=False)
        if not callable(getattr(client, "submit", None)) or not hasattr(client, "scheduler_info"):
            raise BackendError(
                f"DaskBackend expected a distributed.Client, received {type(client).__name__}. "
                "Make one with distributed.Client(address) or use DaskBackend.start(n=2).")
        from .dask_remote import EngineTag, WorkerView

        self.client = client
        self.cluster = cluster
        self.data_plane = data_plane
        self.batch_cap = max(1, int(batch_cap))
        self.engine_timeout = engine_timeout
        self.health_timeout = health_timeout
        self.times = NodeTimes()
        self._owns_client = owns_client
        self._store_probe = StoreProbe(WorkerView(client))
        self._pending: set[_DaskFuture] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._watch: threading.Thread | None = None
        self._plane = KeyedPlane(self)  # the VM's tasks, their node keys named
        try:
            client.register_plugin(EngineTag(), name=EngineTag.name)
        except Exception as exc:
            raise BackendError(
                f"could not reach the dask scheduler of {client!r}: {type(exc).__name__}: "
                f"{exc}. Is the scheduler running? Connect again with DaskBackend.connect(...)."
            ) from exc

    # -- making one -------------------------------------------------------------------
    @classmethod
    def start(cls, n: int = 2, *, threads_per_worker: int = 1, start_timeout: float = 60.0,
              **kwargs: Any) -> DaskBackend:
        """Start a ``LocalCluster`` of ``n`` worker processes on 127.0.0.1 (no dashboard).

        Keyword arguments are the constructor's (``data_plane=``, ``batch_cap=``, ...).
        :meth:`stop` closes the client and the cluster.
        """
        from distributed import Client, LocalCluster

        try:
            # silence_logs: workers log heartbeat errors while the cluster shuts down (harmless).
            # The scheduler's HTTP server runs even without a dashboard: a free loopback port,
            # not 8787 (another cluster on this machine may hold it).
            lc = LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=True,
                              host="127.0.0.1", dashboard_address=None,
                              scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                              silence_logs=logging.ERROR, timeout=start_timeout)
            client = Client(lc, timeout=start_timeout)
        except Exception as exc:
            raise BackendError(
                f"could not start a dask LocalCluster with {n} workers: {type(exc).__name__}: "
                f"{exc}. Check that dask[distributed] is installed and 127.0.0.1 ports are free."
            ) from exc
        backend = cls(client, cluster=lc, owns_client=True, **kwargs)
        atexit.register(backend.stop)
        return backend

    @classmethod
    def connect(cls, address: str, *, timeout: float = 10.0, **kwargs: Any) -> DaskBackend:
        """Connect to a running scheduler (``tcp://host:8786``); :meth:`stop` disconnects."""
        from distributed import Client

        try:
            client = Client(address, timeout=timeout)
        except Exception as exc:
            raise BackendError(
                f"could not connect to a dask scheduler at {address!r}: {type(exc).__name__}: "
                f"{exc}. Is `dask scheduler` running there, and is the address its tcp://... one?"
            ) from exc
        return cls(client, owns_client=True, **kwargs)

    @classmethod
    def for_client(cls, client: Any) -> DaskBackend:
        """The backend ``run(..., backend=client)`` uses: one per client, kept while it lives."""
        with _FOR_CLIENT_LOCK:
            backend = _FOR_CLIENT.get(client)
            if backend is None or backend._closed:
                backend = _FOR_CLIENT[client] = cls(client, owns_client=False)
            return backend

    # -- the Backend interface ----------------------------------------------------------
    @property
    def workers(self) -> int:
        """Worker threads in the cluster now (the slots tasks run in)."""
        try:
            info = self.client.scheduler_info() or {}
        except Exception:
            return 0
        return sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())

    def batch_hint(self, n_ready: int) -> int:
        """About four tasks per worker thread, at most ``batch_cap`` tiny nodes each.

        A dask task costs ~1.5 ms of scheduler and transfer work; grouping tiny
        nodes keeps that out of a 2,000-node sweep (see IPyParallelBackend).
        """
        slots = max(1, self.workers)
        return max(1, min(self.batch_cap, n_ready // (4 * slots)))

    def capabilities(self) -> Capabilities:
        """Workers run pickled tasks (user code by value); tiny nodes are batched
        (:meth:`batch_hint`), known-slow functions are not (:attr:`times`); the VM's
        tasks go through a :class:`~pylearn_lab.backends.task_plane.KeyedPlane`."""
        return Capabilities(in_process=False, workers=self.workers, batch_hint=self.batch_hint,
                            task_overhead=1.5e-3, pickles_by_value=True,
                            sees_store=self.sees_store, is_slow=self._is_slow,
                            task_plane=self._plane)

    def _is_slow(self, task: Any) -> bool:
        return self.times.is_slow(function_name(task))

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` on some worker; the future holds its return value.

        Raises :class:`~pylearn_lab.errors.UnpicklableError` when the call cannot be pickled.
        """
        if kwargs:
            fn = functools.partial(fn, **kwargs)
        return self._send_tasks(fn, args, [], [])

    def _send_tasks(self, fn: Callable[..., Any], args: tuple[Any, ...], keys: list[str],
                    tasks: list[Any]) -> cf.Future:
        """Send ``fn(*args)``; ``keys`` name the nodes it computes (the task plane's)."""
        if self._closed:
            raise BackendError("this DaskBackend was stopped; start or connect a new one")
        gone = self._gone()
        if gone is not None:
            return failed(gone)
        return self._send(fn, args, keys, tasks)

    def _send(self, fn: Callable[..., Any], args: tuple[Any, ...], keys: list[str],
              tasks: list[Any]) -> cf.Future:
        try:
            payload = pack(fn, args)
        except Exception as exc:  # the VM makes a task's failure receipts
            raise UnpicklableError("the task", fn, exc) from exc
        self.times.expect(tasks)
        label = tasks[0].call.label if tasks else getattr(fn, "__name__", "task")
        data: Any = payload
        if len(payload) > _SCATTER_BYTES:
            data = self.client.scatter(payload, hash=False)
        dfut = self.client.submit(call_pickled, data, keys, pure=False,
                                  key=f"pylearn-{label}-{uuid.uuid4().hex}")
        fut = _DaskFuture(dfut)
        with self._lock:
            self._pending.add(fut)
        fut.add_done_callback(self._forget)
        dfut.add_done_callback(functools.partial(self._relay, fut))
        self._ensure_watch()
        return fut

    def _relay(self, fut: _DaskFuture, dfut: Any) -> None:
        if dfut.status == "cancelled":
            fut._settle(error=ClusterGoneError(
                "dask cancelled this task (the scheduler restarted or lost the client)"))
            return
        fut.settle_pickled(dfut, self.times.observe_result)  # KilledWorker: the VM retries it

    def _forget(self, fut: cf.Future) -> None:
        with self._lock:
            self._pending.discard(fut)  # type: ignore[arg-type]

    def sees_store(self, cache: Any) -> bool:
        """True when every worker can read and write the cache directory (asked, not assumed)."""
        if cache is None or not getattr(cache, "shareable", False):
            return False
        if self.data_plane != "auto":
            return self.data_plane == "store"
        # a team cache's index is a database server: workers on other hosts may write it too
        return self._store_probe.sees(cache.location,
                                      any_machine=getattr(cache, "index_url", None) is not None)

    # -- keeping tasks from hanging ---------------------------------------------------
    def _gone(self) -> BackendError | None:
        status = getattr(self.client, "status", "running")
        if status in ("closing", "closed"):
            return ClusterGoneError(
                f"the dask client is {status}; {len(self._pending)} task(s) were abandoned "
                "(finished nodes are cached). Connect a new Client and run again.")
        return None

    def _ensure_watch(self) -> None:
        if self._watch is None or not self._watch.is_alive():
            self._watch = threading.Thread(target=self._watch_loop, name="pylearn-dask-watch",
                                           daemon=True)
            self._watch.start()

    def _watch_loop(self) -> None:
        no_workers_since: float | None = None
        unreachable_since: float | None = None
        while not self._closed and self._pending:
            time.sleep(0.25)
            gone = self._gone()
            if getattr(self.client, "status", "running") != "running":  # reconnecting
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since > self.health_timeout:
                    gone = ClusterGoneError(
                        f"the dask scheduler did not answer for {self.health_timeout:g} s; "
                        f"{len(self._pending)} task(s) were abandoned (finished nodes are "
                        "cached). Is the scheduler still running? Connect again and run again.")
            else:
                unreachable_since = None
            if gone is None and not self.workers:
                no_workers_since = no_workers_since or time.monotonic()
                if time.monotonic() - no_workers_since > self.engine_timeout:
                    gone = NoEnginesError(
                        f"the dask cluster has no workers (none for {self.engine_timeout:g} s) "
                        f"and {len(self._pending)} task(s) are waiting. Start workers "
                        "(`dask worker tcp://...`) or use DaskBackend.start(n=...).")
                    no_workers_since = None
            elif gone is None:
                no_workers_since = None
            if gone is not None:
                self._fail_all(gone)

    def _fail_all(self, exc: BaseException) -> None:
        with self._lock:
            pending = list(self._pending)
        for fut in pending:
            fut._settle(error=exc)

    # -- lifetime ---------------------------------------------------------------------
    def worker_pids(self) -> dict[str, int]:
        """``worker address -> process id`` of every worker."""
        import os

        return dict(self.client.run(os.getpid))

    def stop(self) -> None:
        """Close what :meth:`start` or :meth:`connect` opened; a user's client stays open."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.stop)
        self._fail_all(ClusterGoneError("the DaskBackend was stopped"))
        close_client_and_cluster(self.client, self._owns_client,
                                 None if self.cluster is None else self.cluster.close, "dask")

    close = stop

    def __repr__(self) -> str:
        state = "stopped" if self._closed else f"{self.workers} worker threads"
        how = "started" if self.cluster is not None else "connected"
        return f"<DaskBackend {how}, {state}, data_plane={self.data_plane}>"


class _DaskFuture(RemoteFuture):
    """The client-side future of one dask task; ``cancel()`` also cancels it in dask."""

    def __init__(self, dfut: Any) -> None:
        super().__init__()
        self.dfut = dfut

    def cancel(self) -> bool:
        if not self.done():
            try:
                self.dfut.cancel()
            except Exception:
                pass
        return super().cancel()



