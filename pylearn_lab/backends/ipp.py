"""``IPyParallelBackend``: run graphs on an ipyparallel cluster.

Start local engines, or attach to a cluster someone else started (local,
Slurm, MPI, SSH -- anything ipyparallel's launchers run); the VM then submits
ready nodes to a load-balanced view. Engines that can see the cache
directory load their inputs from it (memory-mapped) and store their outputs
themselves; otherwise values travel with the tasks and the client stores
them. Which one applies is detected, not configured (:meth:`sees_store`).

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
import concurrent.futures as cf
import functools
import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import BackendError, ClusterGoneError, UnpicklableError
from .ipp_batch import NodeTimes, gather, split_slow
from .ipp_jobs import Dispatcher
from .ipp_pickle import failed_receipts, pack, task_keys
from .ipp_remote import engine_pid, set_engine_id
from .ipp_store import StoreProbe
from .ipp_watch import Watchdog, call_with_timeout
from .local import Backend
from .registry import current_cluster, set_current_cluster

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
    """

    name = "ipyparallel"
    in_process = False

    def __init__(self, client: Any, *, cluster: Any = None, owns_client: bool = True,
                 data_plane: str = "auto", batch_cap: int = 64, engine_timeout: float = 5.0,
                 health_interval: float = 1.0, health_timeout: float = 10.0,
                 profile_tmp: str | None = None) -> None:
        if data_plane not in DATA_PLANES:
            raise ValueError(f"data_plane= expected one of {DATA_PLANES}, received {data_plane!r}")
        self.client = client
        self.cluster = cluster
        self.data_plane = data_plane
        self.batch_cap = max(1, int(batch_cap))
        self._owns_client = owns_client
        self._profile_tmp = profile_tmp
        self.times = NodeTimes()
        self._watch = Watchdog(client, engine_timeout, health_interval, health_timeout,
                               on_result=self.times.observe_result)
        self._jobs = Dispatcher(client, self._watch)
        self._store_probe = StoreProbe(client)
        self._tagged: set[int] = set()
        self._tag_results: list[Any] = []
        self._closed = False
        self._tag_engines()
        set_current_cluster(self)

    # -- making one -------------------------------------------------------------------
    @classmethod
    def start(cls, n: int = 4, *, profile_dir: str | None = None, cluster_id: str | None = None,
              controller_args: Iterable[str] = (), start_timeout: float = 60.0,
              data_plane: str = "auto", batch_cap: int = 64, engine_timeout: float = 5.0,
              health_timeout: float = 10.0, **cluster_kwargs: Any) -> IPyParallelBackend:
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
                      profile_tmp=tmp)
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
        slow are taken out of the groups again in :meth:`submit`.
        """
        engines = max(1, len(self.client.ids))
        return max(1, min(self.batch_cap, n_ready // (4 * engines)))

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` on some engine; the future holds its return value."""
        if self._closed:
            raise BackendError("this IPyParallelBackend was stopped; start or connect a new one")
        if self._watch.error is not None and not self._watch.recheck():
            return self._watch.failed(ClusterGoneError(str(self._watch.error)))
        self._tag_engines()
        from ..vm.task import execute, execute_batch

        if fn is execute_batch and len(args) == 1 and not kwargs:
            # a node with a timeout goes alone: the error must name it, not its group
            groups = [[t] for t in args[0] if getattr(t, "timeout", None) is not None]
            rest = [t for t in args[0] if getattr(t, "timeout", None) is None]
            groups += split_slow(rest, self.times) if rest else []
            if len(groups) > 1:  # slow functions go one per task: combine their receipts
                parts = [self._send(execute_batch, (g,)) if len(g) > 1 else
                         self._send(execute, (g[0],)) for g in groups]
                return gather(parts, _concat_receipts)
        if kwargs:
            fn = functools.partial(fn, **kwargs)
        return self._send(fn, args)

    def _send(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> cf.Future:
        keys = task_keys(args)
        try:
            payload = pack(fn, args)
        except Exception as exc:
            if not keys:
                raise UnpicklableError("the task", fn, exc) from exc
            return failed_receipts(keys, exc)
        self.times.expect([t for a in args for t in (a if isinstance(a, list) else [a])
                           if hasattr(t, "call")])
        limits = [t.timeout for a in args for t in (a if isinstance(a, list) else [a])
                  if getattr(t, "timeout", None) is not None]
        return self._jobs.dispatch(payload, keys, timeout=max(limits) if limits else None)

    def sees_store(self, cache: Any) -> bool:
        """True when every engine can read and write the cache directory.

        ``"auto"`` asks them (:class:`~pylearn_lab.backends.ipp_store.StoreProbe`):
        a random token written into the directory must read back on every
        engine. Otherwise values travel with the tasks, which is always correct.
        """
        if cache is None or not getattr(cache, "shareable", False):
            return False
        if self.data_plane != "auto":
            return self.data_plane == "store"
        return self._store_probe.sees(cache.location)

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
        if current_cluster() is self:
            set_current_cluster(None)
        if self._owns_client:
            try:
                self.client.close()
            except Exception:
                pass
        if self.cluster is not None:
            try:
                self.cluster.stop_cluster_sync()
            except Exception as exc:
                log.warning("stopping the ipyparallel cluster: %s", exc)
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


def _concat_receipts(results: list[Any]) -> list[Any]:
    out: list[Any] = []
    for r in results:
        out.extend(r if isinstance(r, list) else [r])
    return out
