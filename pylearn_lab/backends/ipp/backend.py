"""``IPyParallelBackend``: run graphs on an ipyparallel cluster.

Start local engines, or attach to a cluster someone else started (local,
Slurm, MPI, SSH -- anything ipyparallel's launchers run); the VM then submits
ready nodes to a load-balanced view, through the backend's task plane
(:mod:`.plane`, offered by :meth:`IPyParallelBackend.capabilities`; ``submit``
itself runs any callable). Engines that can see the cache
directory -- at the client's path, or at another one through ``path_map`` --
read their inputs from blob files (memory-mapped) and write their outputs as
blob files, returning receipts; the client alone writes the index, in batches
(:mod:`.blobs`, :mod:`.adopt`). Which engines see it is asked of each
engine, not configured (:meth:`IPyParallelBackend.seeing_engines`); the
others get stored bytes with their tasks. Faults never hang a run or lie
about it: timeouts, environment errors and lost engines are handled behind
the future each submission returns (:mod:`.jobs`, :mod:`.watch`).

Both :meth:`IPyParallelBackend.start` and :meth:`IPyParallelBackend.connect`
make the backend the session's cluster, so ``run(..., backend="ipyparallel")``
uses it.

Examples
--------
>>> import pylearn_lab as pl
>>> @pl.component
... def sq(x: int) -> int:
...     return x * x
>>> with IPyParallelBackend.start(n=2) as cluster:          # doctest: +SKIP
...     pl.run([sq(i) for i in range(4)], backend="ipyparallel", cache=False)
[0, 1, 4, 9]
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures as cf
import functools
import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ...errors import BackendError, ClusterGoneError, OptionError, UnpicklableError
from ...graph.seconds import check_seconds
from .batch import NodeTimes, function_name
from .jobs import Dispatcher
from .packing import pack
from .plane import IppTaskPlane
from .remote import engine_pid, set_engine_id
from .route import ROUTINGS
from .adopt import Indexer
from .root import RootWatch
from .store import Visibility, normalise_path_map
from .watch import Watchdog, call_with_timeout
from ..capabilities import Capabilities
from ..local import Backend
from ..registry import current_cluster, set_current_cluster
from ..remote_future import close_client_and_cluster

__all__ = ["ClusterStatus", "IPyParallelBackend"]

log = logging.getLogger(__name__)

DATA_PLANES = ("auto", "store", "ship")


@dataclass
class ClusterStatus:
    """What :meth:`IPyParallelBackend.status` reports.

    Attributes
    ----------
    engines : int
        Registered engines.
    busy : int
        Engines running or holding at least one task.
    queued : int
        Tasks waiting in the scheduler for a free engine.
    pending : int
        Tasks this backend submitted that have not finished.
    per_engine : dict
        ``engine id -> {"queue": n, "tasks": n, "completed": n}`` from ipyparallel.
    excluded : dict
        ``engine id -> why`` for engines taken out of the current run (environment errors).
    """

    engines: int
    busy: int
    queued: int
    pending: int
    per_engine: dict[int, dict[str, int]] = field(default_factory=dict)
    excluded: dict[int, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return (f"{self.engines} engines, {self.busy} busy, {self.queued} queued, "
                f"{self.pending} pending from this session")


class IPyParallelBackend(Backend):
    """A :class:`~pylearn_lab.backends.local.Backend` on an ipyparallel cluster.

    Build it with :meth:`start` (local engines) or :meth:`connect` (an existing
    cluster) rather than directly.

    Parameters
    ----------
    client : ipyparallel.Client
        A connected client.
    cluster : ipyparallel.Cluster, optional
        The cluster this backend started (and will stop).
    owns_client : bool
        Close ``client`` on :meth:`stop`.
    data_plane : {"auto", "store", "ship"}
        ``"auto"`` detects whether engines see the cache directory; ``"store"``
        and ``"ship"`` force engines to use the store, or values to travel.
    batch_cap : int
        At most this many tiny nodes per task.
    engine_timeout : float
        Seconds with zero engines before pending tasks fail with ``NoEnginesError``.
    health_timeout : float
        Seconds without an answer from the controller before ``ClusterGoneError``.
    path_map : dict, optional
        ``{"/client/prefix": "/engine/prefix"}``: where engines see directories
        the client sees elsewhere (e.g. ``{"/home/u": "/mnt/home/u"}`` when the
        compute nodes mount home under ``/mnt``). The longest prefix wins.
    probe_timeout : float
        Seconds a run's start waits for the *first* engine to say whether it
        sees a new cache directory; slower engines answer later, meanwhile
        their tasks' large values travel through the client.
    stop_grace : float
        Seconds an engine gets to stop a timed-out node after the interrupt
        before it is shut down.

    Raises
    ------
    OptionError
        ``data_plane=`` is not one of its values, or a timeout is not a number
        of seconds > 0.
    """

    name = "ipyparallel"
    in_process = False
    #: tasks a run keeps outstanding per engine (at least 64 in all): the controller
    #: queues them, so engines never wait on the notebook, and the notebook holds a
    #: window of tasks instead of every ready node of a sweep (Capabilities.max_pending)
    window_per_engine = 16
    #: "auto": tasks of functions known to be tiny go straight to an engine's queue,
    #: skipping the controller's Python scheduler (see .route); "balanced": every task
    #: goes through ipyparallel's load-balanced scheduler
    routing = "auto"

    def __init__(self, client: Any, *, cluster: Any = None, owns_client: bool = True,
                 data_plane: str = "auto", batch_cap: int = 256, engine_timeout: float = 5.0,
                 health_interval: float = 1.0, health_timeout: float = 10.0,
                 profile_tmp: str | None = None, path_map: dict[str, str] | None = None,
                 probe_timeout: float = 3.0, stop_grace: float = 5.0) -> None:
        if data_plane not in DATA_PLANES:
            raise OptionError(f"IPyParallelBackend(data_plane=) expected one of {DATA_PLANES}, "
                              f"received {data_plane!r}")
        for name, value in (("engine_timeout", engine_timeout), ("health_interval", health_interval),
                            ("health_timeout", health_timeout), ("probe_timeout", probe_timeout),
                            ("stop_grace", stop_grace)):
            check_seconds(name, value, where="IPyParallelBackend", allow_none=False)
        path_map = normalise_path_map(path_map)  # refused before anything starts
        self.client = client
        self.cluster = cluster
        self.data_plane = data_plane
        self.batch_cap = max(1, int(batch_cap))
        self._owns_client = owns_client
        self._profile_tmp = profile_tmp
        self.times = NodeTimes()
        self._watch = Watchdog(client, engine_timeout, health_interval, health_timeout,
                               on_result=self.times.observe_result)
        # validated at each run (capabilities); a send never raises over it
        self._jobs = Dispatcher(client, self._watch, grace=stop_grace, times=self.times,
                                direct=lambda: self.routing == "auto", depth_cap=self._depth_cap)
        self._visibility = Visibility(client, path_map, timeout=probe_timeout)
        # tasks still outstanding: their receipts are worth a short wait (one transaction)
        self._indexer = Indexer(busy=lambda: self._watch.pending > 0)
        self._roots = RootWatch()
        self._caches: dict[str, Any] = {}
        self._tagged: set[int] = set()
        self._tag_results: list[Any] = []
        self._sent: collections.deque[tuple[str, ...]] = collections.deque(maxlen=1000)
        self._closed = False
        self._plane = IppTaskPlane(self)  # the VM's tasks (the store data plane): see .plane
        self._tag_engines()
        set_current_cluster(self)

    # -- making one -------------------------------------------------------------------
    @classmethod
    def start(cls, n: int = 4, *, profile_dir: str | None = None, cluster_id: str | None = None,
              controller_args: Iterable[str] = (), start_timeout: float = 60.0,
              data_plane: str = "auto", batch_cap: int = 256, engine_timeout: float = 5.0,
              health_timeout: float = 10.0, path_map: dict[str, str] | None = None,
              **cluster_kwargs: Any) -> IPyParallelBackend:
        """Start a controller and ``n`` engines on 127.0.0.1 and connect to them.

        The controller pings engines every 0.5 s (ipyparallel's default is 3 s),
        so two engines are up in about 3 s. The profile lives in a temporary
        directory unless ``profile_dir`` is given; :meth:`stop` removes it.
        ipyparallel's own log (each engine's output, every step of the cluster's
        life) shows only errors unless ``log_level=`` says otherwise. Further
        keyword arguments go to ``ipyparallel.Cluster`` (e.g. ``engines="mpi"``).
        """
        import ipyparallel as ipp

        tmp = None
        if profile_dir is None:
            profile_dir = tmp = tempfile.mkdtemp(prefix="pylearn-ipp-")
        args = ["--ping=500", *controller_args]
        cluster_kwargs.setdefault("controller_ip", "127.0.0.1")
        cluster_kwargs.setdefault("log_level", logging.ERROR)
        cluster = ipp.Cluster(n=n, profile_dir=str(profile_dir),
                              cluster_id=cluster_id or f"pylearn-{uuid.uuid4().hex[:8]}",
                              controller_args=args, load_profile=False,
                              engine_timeout=int(start_timeout), **cluster_kwargs)
        try:
            client = cluster.start_and_connect_sync(n=n)
        except BaseException as exc:
            try:
                cluster.stop_cluster_sync()
            except Exception:
                pass
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
            raise BackendError(
                f"could not start an ipyparallel cluster with {n} engines: {type(exc).__name__}: "
                f"{exc}. Check that ipyparallel is installed and 127.0.0.1 ports are free; "
                "start_timeout= gives slow machines more time."
            ) from exc
        backend = cls(client, cluster=cluster, data_plane=data_plane, batch_cap=batch_cap,
                      engine_timeout=engine_timeout, health_timeout=health_timeout,
                      profile_tmp=tmp, path_map=path_map)
        backend._await_tags(timeout=10.0)  # fresh engines are idle: leave them idle
        atexit.register(backend.stop)  # also removes the temporary profile directory
        return backend

    @classmethod
    def connect(cls, *, profile: str | None = None, profile_dir: str | None = None,
                cluster_id: str | None = None, url_file: str | None = None, client: Any = None,
                timeout: float = 10.0, **kwargs: Any) -> IPyParallelBackend:
        """Attach to a running cluster (its :meth:`stop` only disconnects).

        Give an ``ipyparallel.Client`` (used as is, never closed), a connection
        file (``url_file=``, ``ipcontroller-client.json``), or a ``profile`` /
        ``profile_dir`` and ``cluster_id`` as given to ``ipcluster start``.
        Further keyword arguments are the constructor's (``data_plane=``, ...).
        """
        if client is not None:
            return cls(client, owns_client=False, **kwargs)
        import ipyparallel as ipp

        ckw = {k: v for k, v in dict(profile=profile, profile_dir=profile_dir,
                                     cluster_id=cluster_id).items() if v is not None}
        try:
            # ipyparallel 9 ignores Client(url_file=...): the file goes positionally
            rc = ipp.Client(str(url_file), timeout=timeout) if url_file is not None else \
                ipp.Client(timeout=timeout, **ckw)
        except Exception as exc:
            raise BackendError(
                f"could not connect to an ipyparallel cluster with "
                f"{url_file or ckw or 'the default profile'}: "
                f"{type(exc).__name__}: {exc}. Is the controller running (`ipcluster start`)? "
                "Pass the url_file= its ipcontroller-client.json, or the same profile/cluster_id."
            ) from exc
        return cls(rc, owns_client=True, **kwargs)

    # -- the Backend interface ----------------------------------------------------------
    @property
    def workers(self) -> int:
        return len(self.client.ids)

    def batch_hint(self, n_ready: int) -> int:
        """Tiny-node batching: about four tasks per engine, at most ``batch_cap`` nodes each.

        ipyparallel costs ~3 ms per task; grouping keeps engines busy (several
        tasks each, so a slow one does not idle the others) while 2,000 tiny
        nodes cost dozens of round trips, not thousands. Functions known to be
        slow are taken out of the groups again by the VM (``is_slow`` of
        :meth:`capabilities`, from :attr:`times`).
        """
        engines = max(1, len(self.client.ids))
        return max(1, min(self.batch_cap, n_ready // (4 * engines)))

    def capabilities(self) -> Capabilities:
        """Engines run pickled tasks (user code by value); tiny nodes are batched
        (:meth:`batch_hint`), known-slow functions are not (:attr:`times`), and the
        VM's tasks go through the task plane (:mod:`.plane`: the store data plane)."""
        engines = len(self.client.ids)
        self._routing()  # refused at the run, not deep in a send
        return Capabilities(in_process=False, workers=engines,
                            batch_hint=self.batch_hint, task_overhead=3e-3,
                            pickles_by_value=True, sees_store=self.sees_store,
                            is_slow=self._is_slow, task_plane=self._plane,
                            max_pending=self._max_pending(engines))

    def _max_pending(self, engines: int) -> int:
        return max(64, self._window() * engines)

    def _depth_cap(self) -> int:
        # an engine may hold its share of the run's window in its own queue: a window
        # split between direct and load-balanced sends would stop direct sends (.route)
        engines = max(1, len(self.client.ids))
        return -(-self._max_pending(engines) // engines)

    def _window(self) -> int:
        w = self.window_per_engine
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise OptionError(
                f"IPyParallelBackend.window_per_engine must be a number of tasks >= 1, "
                f"received {type(w).__name__} {w!r:.40}. Set it to an int (default 16).")
        return w

    def _routing(self) -> str:
        mode = self.routing
        if not isinstance(mode, str) or mode not in ROUTINGS:
            raise OptionError(
                f"IPyParallelBackend.routing must be one of {ROUTINGS}, received "
                f"{type(mode).__name__} {mode!r:.40}. Use \"auto\" (the default) or "
                "\"balanced\" (every task through ipyparallel's scheduler).")
        return mode

    def _is_slow(self, task: Any) -> bool:
        return self.times.is_slow(function_name(task))

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` on some engine; the future holds its return value.

        Raises :class:`~pylearn_lab.errors.UnpicklableError` when the call cannot be
        pickled. (The VM's tasks take the task plane instead: :meth:`capabilities`.)
        """
        gate = self._gate()
        if gate is not None:
            return gate
        if kwargs:
            fn = functools.partial(fn, **kwargs)
        return self._send(fn, args)

    def _gate(self) -> cf.Future | None:
        """Before any send: refuse a stopped backend, fail at once on a gone cluster
        (a future), tag new engines."""
        if self._closed:
            raise BackendError("this IPyParallelBackend was stopped; start or connect a new one")
        if self._watch.error is not None and not self._watch.recheck():
            return self._watch.failed(ClusterGoneError(str(self._watch.error)))
        self._tag_engines()
        return None

    def _send(self, fn: Callable[..., Any], args: tuple[Any, ...],
              targets: list[int] | None = None, keys: list[str] | None = None,
              scan: list[Any] | None = None, tasks: list[Any] | None = None) -> cf.Future:
        keys = [] if keys is None else keys  # node keys: only the task plane sends nodes
        try:
            payload = pack(fn, args, scan)
        except Exception as exc:  # the VM makes a task's failure receipts
            raise UnpicklableError("the task", fn, exc) from exc
        if tasks is None:
            tasks = []
        self.times.expect(tasks)
        self._sent.append(tuple(getattr(t.call, "label", "") for t in tasks))
        limits = [t.timeout for t in tasks if getattr(t, "timeout", None) is not None]
        return self._jobs.dispatch(payload, keys, timeout=max(limits) if limits else None,
                                   targets=targets)

    def sees_store(self, cache: Any) -> bool:
        """True when this run's data goes through the store (the default for a cache
        directory): keys travel, values do not.

        Which engines read and write blob files themselves is decided per engine
        (:meth:`seeing_engines`); for the others, small values travel as stored
        bytes and large ones are read and written by the client -- never
        unpickled there. ``data_plane="ship"`` makes values travel as Python
        objects instead (the VM's ship mode), ``"store"`` trusts every engine to
        see the directory without asking.
        """
        if cache is None or not getattr(cache, "shareable", False) or self.data_plane == "ship":
            return False
        self._roots.note(cache)
        self._caches[cache.location] = cache
        if not self._roots.ok(cache.location):
            # keys still travel, but no file is read or written there by anyone: engines
            # send values back and the client hands them to the run uncached
            self._roots.warn(cache.location)
            return True
        if self.data_plane == "auto":
            # the first run on a directory waits (up to probe_timeout) for one answer
            self._visibility.ask(cache.location, wait=self._visibility.timeout)
        return True

    def seeing_engines(self, cache: Any) -> set[int]:
        """Live engines that read and write ``cache``'s blob files themselves.

        Asks engines without a verdict (non-blocking: they answer when free) and
        returns those known to see it now. ``data_plane="store"``: every engine.
        """
        if cache is None or not getattr(cache, "shareable", False) or self.data_plane == "ship":
            return set()
        if self.data_plane == "store":
            return set(self.client.ids)
        return self._visibility.ask(cache.location)

    def engine_views(self, cache: Any) -> dict[int, tuple[bool, str]]:
        """``engine -> (sees the cache directory, why not)`` for engines that answered."""
        return self._visibility.verdicts(cache.location)

    # -- what the backend did (for tests, benchmarks and the curious) -----------------
    @property
    def path_map(self) -> dict[str, str]:
        """``{client prefix: engine prefix}`` (see the class doc); assigning one forgets
        every engine's verdict, so engines are asked again where the cache is."""
        return dict(self._visibility.path_map)

    @path_map.setter
    def path_map(self, mapping: dict[str, str] | None) -> None:
        self._visibility.set_path_map(mapping)

    @property
    def health_timeout(self) -> float:
        """Seconds without an answer from the controller before ``ClusterGoneError``."""
        return float(self._watch.health_timeout)

    @property
    def stop_grace(self) -> float:
        """Seconds a timed-out node gets after the interrupt before its engine is shut down."""
        return float(self._jobs.grace)

    @stop_grace.setter
    def stop_grace(self, seconds: float) -> None:
        self._jobs.grace = check_seconds("stop_grace", seconds, allow_none=False)

    @property
    def cluster_error(self) -> BaseException | None:
        """Why the watchdog thinks the cluster is gone (None while it answers)."""
        return self._watch.error

    @property
    def index_batches(self) -> int:
        """Index transactions the client made for receipts so far (each holds many rows)."""
        return self._indexer.batches

    @property
    def blob_writers(self) -> collections.Counter[int]:
        """Blob files stored through this backend, by the pid of the process that wrote
        their bytes (an engine's, or this process's for values that travelled)."""
        return collections.Counter(self._indexer.blob_writers)

    @property
    def sent_tasks(self) -> list[tuple[str, ...]]:
        """The node labels of each of the last 1,000 tasks sent, oldest first: what
        tiny-node batching and the slow-function split made of the ready nodes."""
        return list(self._sent)

    # -- cluster state ----------------------------------------------------------------
    def status(self, timeout: float = 5.0) -> ClusterStatus:
        """Live engines, busy engines and queued tasks (asks the controller; ``timeout`` s).

        Only engines registered now count: one that died or stopped answering
        heartbeats (frozen) is gone from ``engines`` as soon as the controller
        unregisters it.
        """
        try:
            qs = call_with_timeout(self.client.queue_status, timeout)
        except TimeoutError:
            raise ClusterGoneError(
                f"the ipyparallel controller did not answer within {timeout:g} s. Is the cluster "
                "still running? Connect again with IPyParallelBackend.connect(...).") from None
        live = set(self.client.ids)  # the controller may still list an engine that died
        per = {k: dict(v) for k, v in qs.items() if isinstance(k, int) and k in live}
        busy = sum(1 for v in per.values() if v.get("queue", 0) + v.get("tasks", 0) > 0)
        return ClusterStatus(len(per), busy, int(qs.get("unassigned", 0)), self._watch.pending, per,
                             dict(self._jobs.excluded))

    def engine_pids(self, timeout: float = 10.0) -> dict[int, int]:
        """``engine id -> process id`` of every engine."""
        ids = self.client.ids
        pids = self.client[ids].apply_async(engine_pid).get(timeout)
        return dict(zip(ids, pids))

    def stop(self) -> None:
        """Stop what :meth:`start` started; a connected cluster is only disconnected."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.stop)
        self._watch.stop()
        self._watch.fail_all(ClusterGoneError("the IPyParallelBackend was stopped"))
        self._indexer.close()
        self._visibility.close()
        if current_cluster() is self:
            set_current_cluster(None)
        close_client_and_cluster(self.client, self._owns_client, None if self.cluster is None
                                 else self.cluster.stop_cluster_sync, "ipyparallel")
        if self._profile_tmp:
            shutil.rmtree(self._profile_tmp, ignore_errors=True)

    close = stop

    def __repr__(self) -> str:
        state = "stopped" if self._closed else f"{len(self.client.ids)} engines"
        how = "started" if self.cluster is not None else "connected"
        return f"<IPyParallelBackend {how}, {state}, data_plane={self.data_plane}>"

    # -- helpers ----------------------------------------------------------------------
    def _tag_engines(self) -> None:
        """Set ``PYLEARN_ENGINE_ID`` on engines not tagged yet (receipts say "engine N").

        Never waits: on a busy engine the request runs after the current task.
        """
        for e in self.client.ids:
            if e in self._tagged:
                continue
            self._tagged.add(e)
            try:
                ar = self.client[e].apply_async(set_engine_id, e)
            except Exception:
                self._tagged.discard(e)
                continue
            ar.add_done_callback(functools.partial(self._tagged_or_not, e))
            self._tag_results.append(ar)

    def _await_tags(self, timeout: float) -> None:
        for ar in list(self._tag_results):
            try:
                ar.get(timeout)
            except Exception:
                pass
        self._tag_results.clear()

    def _tagged_or_not(self, engine: int, ar: Any) -> None:
        if ar.exception() is not None:  # a dying engine: try again on the next submit
            self._tagged.discard(engine)
