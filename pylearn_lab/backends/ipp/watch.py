"""Outstanding ipyparallel tasks, and the watchdog that keeps them from hanging.

ipyparallel reports an engine that dies mid-task (an ``EngineError`` on the
task's result), but two failures are silent: a cluster with no engines keeps
load-balanced tasks queued forever, and a controller that stops answering
leaves every result pending (even ``Client.queue_status()`` then blocks for
ever). The :class:`Watchdog` turns both into errors on the pending futures,
so the VM's loop -- which polls its futures every 0.1 s -- always ends:

* no engine registered for ``engine_timeout`` seconds -> :class:`NoEnginesError`;
* neither a result nor an answer to a health probe came from the controller
  for ``health_timeout`` seconds while tasks were outstanding ->
  :class:`ClusterGoneError`. Later submissions fail at once unless the controller
  answers a fresh probe (:meth:`Watchdog.recheck`). A busy controller still
  delivers results, so load alone is not mistaken for death, and time spent with
  nothing outstanding never counts as silence.

Examples
--------
>>> import concurrent.futures as cf
>>> call_with_timeout(lambda: 42, 1.0)
42
>>> import time
>>> try:
...     call_with_timeout(lambda: time.sleep(1), 0.05)
... except TimeoutError as exc:
...     print("timed out")
timed out
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
from collections.abc import Callable
from typing import Any


from ...errors import BackendError, ClusterGoneError, NoEnginesError
from ..remote_future import RemoteFuture

__all__ = ["TaskFuture", "Watchdog", "call_with_timeout"]

log = logging.getLogger(__name__)


def call_with_timeout(fn: Callable[[], Any], timeout: float) -> Any:
    """``fn()`` in a daemon thread; ``TimeoutError`` if it has not returned in ``timeout`` s.

    For ipyparallel calls that have no timeout of their own: a thread stuck on
    a dead controller is abandoned, the caller is not.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="pylearn-ipp-probe", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


class TaskFuture(RemoteFuture):
    """The client-side future of one task: its result is the unpickled return value.

    ``cancel()`` asks the cluster to drop the task and returns False: the cluster's
    reply settles the future (cancelled if the task still waited, else its result).
    """

    def __init__(self, ar: Any, client: Any, timeout: float | None = None,
                 keys: list[str] | None = None) -> None:
        super().__init__()
        self.ar = ar
        self._client = client
        self.timeout = timeout
        self.keys = list(keys or [])
        self.engine: int | None = None  # where it ran (known once an engine took it)
        self.started: float | None = None  # monotonic time an engine was seen running it
        self._aborting = False  # cancel() asked the cluster to drop it
        #: settled past its timeout while the task may still run on its engine
        self.timed_out = False
        #: the send order of a task sent straight to ``engine`` (None: load-balanced)
        self.seq: int | None = None

    def cancel(self) -> bool:
        if self.done():
            return super().cancel()
        # only the cluster knows whether the task still waits: ask it to drop it, and let
        # its reply settle this future (TaskAborted, or the result of a task an engine had
        # already taken or finished). Reported cancelled at once, the run released the
        # claim and dropped a result an engine was storing, and a run started again
        # computed that node a second time (found by the red team)
        self._aborting = True
        try:  # non-blocking: a dead controller must not hang a cancel
            self._client.abort(self.ar.msg_ids, block=False)
        except Exception:
            return super().cancel()  # no cluster to answer: nothing will settle it
        return False

    def settle_pickled(self, inner: Any, on_result: Callable[[Any], None] | None = None) -> None:
        """As :meth:`RemoteFuture.settle_pickled`; the abort :meth:`cancel` asked for
        ends the future cancelled (``CancelledError``), not with ipyparallel's error."""
        if self._aborting:
            from ipyparallel.error import TaskAborted

            try:
                aborted = isinstance(inner.exception(), TaskAborted)
            except BaseException:  # a cancelled or broken reply: settle as usual
                aborted = False
            if aborted:
                super().cancel()
                return
        super().settle_pickled(inner, on_result)


class Watchdog:
    """Tracks one client's outstanding tasks; see the module docstring."""

    def __init__(self, client: Any, engine_timeout: float, health_interval: float,
                 health_timeout: float, on_result: Callable[[Any], None] | None = None) -> None:
        self.client = client
        self.on_result = on_result
        self.engine_timeout = engine_timeout
        self.health_interval = health_interval
        self.health_timeout = health_timeout
        self.error: BackendError | None = None
        self._pending: set[TaskFuture] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._probe: threading.Thread | None = None
        self._last_ok = time.monotonic()
        self._no_engines_since: float | None = None
        #: ``on_timeout(future, engine, seconds)``: a tracked task ran past its timeout
        self.on_timeout: Callable[[TaskFuture, int, float], None] | None = None

    @property
    def pending(self) -> int:
        """Tasks submitted through this backend and not finished."""
        return len(self._pending)

    def track(self, ar: Any, timeout: float | None = None,
              keys: list[str] | None = None) -> TaskFuture:
        """Wrap ipyparallel's AsyncResult ``ar`` into a :class:`TaskFuture`.

        ``timeout`` s count from when an engine is seen running the task (not
        while it waits in the scheduler's queue).
        """
        fut = TaskFuture(ar, self.client, timeout, keys)
        with self._lock:
            if not self._pending:
                # the silence clock starts with the first outstanding task: time spent idle
                # is not time the controller failed to answer (the watch thread may not
                # even have run yet, so its own idle reset cannot be relied on)
                self._last_ok = time.monotonic()
            self._pending.add(fut)
        fut.add_done_callback(self._forget)
        ar.add_done_callback(lambda a: self._relay(a, fut))
        self._ensure_thread()
        return fut

    def failed(self, exc: BaseException) -> cf.Future:
        """A future that already failed with ``exc``."""
        fut: cf.Future = cf.Future()
        fut.set_exception(exc)
        return fut

    def _relay(self, ar: Any, fut: TaskFuture) -> None:
        # runs in ipyparallel's IO thread; a result is also proof the controller is alive
        self._last_ok = time.monotonic()
        if fut.engine is None:
            fut.engine = self._engine_of(fut)
        fut.settle_pickled(ar, self.on_result)

    def _forget(self, fut: cf.Future) -> None:
        with self._lock:
            self._pending.discard(fut)  # type: ignore[arg-type]

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, name="pylearn-ipp-watch",
                                            daemon=True)
            self._thread.start()

    def fail_all(self, exc: BackendError) -> None:
        """Fail every pending future with ``exc``."""
        with self._lock:
            pending = list(self._pending)
        for fut in pending:
            fut._settle(error=exc)

    def recheck(self, timeout: float = 2.0) -> bool:
        """After a :class:`ClusterGoneError`, ask the controller once more.

        True (and the error is cleared) when it answers within ``timeout`` s: a
        verdict is only sticky while the controller stays silent.
        """
        if self.error is None:
            return True
        try:
            call_with_timeout(self.client.queue_status, timeout)
        except Exception:
            return False
        log.info("the ipyparallel controller answers again; clearing %s", self.error)
        self.error = None
        self._last_ok = time.monotonic()
        return True

    def stop(self) -> None:
        """End the watch thread (pending futures are failed by the caller if needed)."""
        self._stop.set()

    # -- the watch thread -------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            if not self._pending:
                self._no_engines_since = None
                self._last_ok = time.monotonic()  # idle: nothing to watch
                continue
            try:
                self._check()
            except Exception as exc:  # the watchdog itself must never die silently
                log.warning("ipyparallel watchdog: %s", exc)

    def _check(self) -> None:
        now = time.monotonic()
        self._check_lost_engines()
        self._check_timeouts(now)
        if not self.client.ids:
            self._no_engines_since = self._no_engines_since or now
            if now - self._no_engines_since > self.engine_timeout:
                self.fail_all(NoEnginesError(
                    f"the ipyparallel cluster has no engines (none for {self.engine_timeout:g} s) "
                    f"and {self.pending} task(s) are waiting. Start engines (e.g. "
                    "`ipcluster engines --n=2` with the same profile/cluster id), or use "
                    "IPyParallelBackend.start(n=...)."))
                self._no_engines_since = now
        else:
            self._no_engines_since = None
        if now - self._last_ok > self.health_timeout:
            self.error = ClusterGoneError(
                f"the ipyparallel controller did not answer for {self.health_timeout:g} s; "
                f"{self.pending} task(s) were abandoned (finished nodes are cached). Is the "
                "cluster still running? Reconnect with IPyParallelBackend.connect(...) or "
                "start a new one, then run again.")
            self.fail_all(self.error)
            return
        probe = self._probe
        if (probe is None or not probe.is_alive()) and now - self._last_ok > self.health_interval:
            self._probe = threading.Thread(target=self._probe_once, name="pylearn-ipp-health",
                                           daemon=True)
            self._probe.start()

    def _engine_of(self, fut: TaskFuture) -> int | None:
        md = self.client.metadata.get(fut.ar.msg_ids[0])  # a defaultdict: never index it
        engine = md.get("engine_id") if md else None
        return engine if isinstance(engine, int) else None

    def _check_timeouts(self, now: float) -> None:
        with self._lock:
            pending = [f for f in self._pending if f.timeout is not None and not f.done()]
        for fut in pending:
            if fut.engine is None:
                fut.engine = self._engine_of(fut)
            if fut.engine is None:
                continue  # still queued: the clock has not started
            if fut.started is None:
                fut.started = now
            elif now - fut.started > float(fut.timeout or 0) and self.on_timeout is not None:
                self.on_timeout(fut, fut.engine, now - fut.started)

    def _check_lost_engines(self) -> None:
        """Fail at once the tasks whose engine unregistered (its nanny reports a death in
        milliseconds; ipyparallel's scheduler waits 5 s before failing load-balanced tasks)."""
        ids = set(self.client.ids)
        with self._lock:
            pending = list(self._pending)
        for fut in pending:
            md = self.client.metadata.get(fut.ar.msg_ids[0])  # a defaultdict: never index it
            engine = md.get("engine_id") if md else None
            if engine is None:
                engine = fut.engine  # sent to a chosen engine (.route): known at once
            if engine is not None and engine not in ids and not fut.done():
                from ipyparallel.error import EngineError

                fut._settle(error=EngineError(f"engine {engine} died while running this task"))

    def _probe_once(self) -> None:
        try:
            self.client.queue_status()
            self._last_ok = time.monotonic()
        except Exception as exc:  # a closed client, a broken socket: the same verdict
            log.debug("health probe failed: %s", exc)
