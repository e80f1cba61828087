"""One submission to an ipyparallel cluster, across engines: retries, exclusions, timeouts.

The VM loop sees one :class:`concurrent.futures.Future` per submission. Behind
it, a :class:`Job` may be attempted on several engines:

* **environment errors** -- a node (or the task's unpickling) failing with
  ``ImportError`` / ``ModuleNotFoundError`` on an engine says more about the
  engine than the node: the engine is excluded (a warning names it) and the
  job goes to another one. Exclusions last for the run: they are forgotten as
  soon as this backend has nothing outstanding. When every engine failed the
  same way, the last receipts are the node's error.
* **timeouts** -- a job carrying ``timeout`` s (``run(node_timeout=)`` or a
  component's ``timeout=``) that runs longer on its engine than that is failed
  at once with a receipt per node (a ``TimeoutError``, a :class:`NodeError`
  naming the node at the end of the run); the engine is interrupted (SIGINT
  through its nanny, which ipyparallel forwards to the engine process) and,
  if it is still busy with the job ``grace`` s later, shut down. A late result
  of a stopped job is ignored: the future is settled once.

Examples
--------
>>> env_failure([])
''
>>> class R:
...     ok, engine, error_type, error_msg = False, "engine 3", "builtins.ImportError", "no x"
>>> env_failure([R()]), engine_of_receipts([R()])
('ImportError: no x', 3)
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import logging
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from .batch import NodeTimes
from .remote import CALL_PICKLED
from .route import Router
from .send import EngineSender, Sender
from .watch import TaskFuture, Watchdog, call_with_timeout
from ..remote_future import RemoteFuture, relay

__all__ = ["ENV_ERRORS", "Dispatcher", "EngineExcludedWarning", "Job", "engine_of_receipts",
           "env_failure"]

log = logging.getLogger(__name__)

#: Error types that blame the engine's environment, not the node.
ENV_ERRORS = ("builtins.ImportError", "builtins.ModuleNotFoundError")

TIMEOUT_ERROR = "builtins.TimeoutError"

#: the route of a task of unknown length (.route: it holds direct sends back)
_UNKNOWN = frozenset({""})


class EngineExcludedWarning(UserWarning):
    """An engine failed a node with an environment error and takes no more of this run."""


def env_failure(result: Any) -> str:
    """The message of the first environment error among ``result``'s receipts, else ``""``."""
    for r in result if isinstance(result, list) else [result]:
        if getattr(r, "ok", True) is False and getattr(r, "error_type", "") in ENV_ERRORS:
            return f"{r.error_type.rpartition('.')[2]}: {r.error_msg}"
    return ""


def engine_of_receipts(result: Any) -> int | None:
    """The engine id the receipts name (``"engine N"``; they are tagged on each engine)."""
    for r in result if isinstance(result, list) else [result]:
        name = getattr(r, "engine", "")
        if isinstance(name, str) and name.startswith("engine ") and name[7:].isdigit():
            return int(name[7:])
    return None


def _engine_died(f: Any) -> bool:
    """True when the finished ``f`` (a TaskFuture or a Sent) failed by its engine's death."""
    from ipyparallel.error import EngineError, RemoteError

    cancelled = getattr(f, "cancelled", None)  # a Sent has none
    if callable(cancelled) and cancelled():
        return False
    try:
        exc = f.exception()
    except cf.CancelledError:  # a Sent whose message was cancelled: not a death
        return False
    # the watchdog raises EngineError; the client's reply for a task stranded on an
    # unregistered engine is a RemoteError wrapping one
    return isinstance(exc, EngineError) or (isinstance(exc, RemoteError)
                                            and getattr(exc, "ename", "") == "EngineError")


class Job(RemoteFuture):
    """A submission that may be attempted on several engines (see the module docstring)."""

    def __init__(self, payload: bytes, keys: list[str], timeout: float | None,
                 targets: list[int] | None) -> None:
        super().__init__()
        self.payload, self.keys, self.timeout, self.targets = payload, keys, timeout, targets
        self.attempt: TaskFuture | None = None
        self.tried: list[int] = []
        self.cancel_asked = False  # no attempt starts after cancel() (Dispatcher._finished)

    def cancel(self) -> bool:
        self.cancel_asked = True
        if self.attempt is not None and not self.attempt.cancel() and not self.attempt.done():
            return False  # running on an engine: it ends on its own (TaskFuture.cancel)
        return super().cancel()


class Dispatcher:
    """Sends jobs to a client's engines; owns the run's exclusions and the timeouts."""

    def __init__(self, client: Any, watch: Watchdog, grace: float = 5.0,
                 times: NodeTimes | None = None, direct: Callable[[], bool] = lambda: False,
                 depth_cap: Callable[[], int] = lambda: 16) -> None:
        self.client = client
        self.watch = watch
        self.grace = grace
        self.excluded: dict[int, str] = {}
        self._views: dict[tuple[int, ...] | None, Sender] = {}
        self._lock = threading.Lock()
        #: the functions' timings (the backend's) and whether direct sends are on (.route)
        self._times, self._direct_on = times, direct
        self.router = Router(depth_cap, known_tiny=times.known_tiny if times else
                             (lambda name: False))
        self._engine_sender = EngineSender(client, CALL_PICKLED)
        # engine -> {seq: lost} of its direct attempts it has not answered, in send order:
        # an engine runs its queue in order, so when it dies only the first of them can
        # have started (the others only waited, see _never_started)
        self._unanswered: dict[int, dict[int, bool]] = {}
        self._seq = itertools.count()
        self._send_lock = threading.Lock()
        watch.on_timeout = self._timed_out

    def dispatch(self, payload: bytes, keys: list[str], timeout: float | None = None,
                 targets: list[int] | None = None) -> Job:
        """Send ``payload`` (``call_pickled``'s) to an engine among ``targets`` (None: any)."""
        if self.watch.pending == 0 and self.excluded:
            self.excluded.clear()  # a new run: engines get another chance
        job = Job(payload, keys, timeout, targets)
        self._attempt(job)
        return job

    def allowed(self, targets: list[int] | None) -> list[int]:
        """Live engines among ``targets`` that are not excluded."""
        ids = list(self.client.ids)
        return [e for e in ids if e not in self.excluded and (targets is None or e in targets)]

    def _view(self, engines: list[int]) -> Sender:
        ids = list(self.client.ids)
        memo = None if sorted(engines) == sorted(ids) else tuple(sorted(engines))
        with self._lock:
            sender = self._views.get(memo)
            if sender is None:
                view = self.client.load_balanced_view(None if memo is None else list(memo))
                sender = self._views[memo] = Sender(view, CALL_PICKLED)
        return sender

    def _attempt(self, job: Job) -> None:
        # engines not tried yet first; with zero engines the default view queues the task
        # and the watchdog reports "no engines"
        engines = ([e for e in self.allowed(job.targets) if e not in job.tried]
                   or self.allowed(job.targets))
        engine, sent, seq = self._send_direct(job, engines)
        if sent is None:
            sender = self._view(engines) if engines else self._view(list(self.client.ids))
            sent = sender.send(job.payload, job.keys)
        names = self._times.names_of(job.keys) if self._times is not None else frozenset()
        self.router.sent(engine, names)
        ended = self._route_ended(engine, names)
        sent.add_done_callback(ended)
        fut = self.watch.track(sent, timeout=job.timeout, keys=job.keys)
        if engine is not None and seq is not None:
            fut.engine = engine  # known before any reply: the watchdog sees it die
            fut.seq = seq
            answered = self._answered(engine, seq)
            sent.add_done_callback(answered)
            fut.add_done_callback(answered)
        fut.add_done_callback(ended)
        job.attempt = fut
        fut.add_done_callback(lambda f: self._finished(job, f))

    def _send_direct(self, job: Job, engines: list[int]) -> tuple[int | None, Any, int | None]:
        """``(engine, sent, seq)`` when the router sends ``job`` straight to an engine,
        else ``(None, None, None)``; ``seq`` is its place in the engine's queue."""
        # one node per task only: a batch already pays the scheduler once for many nodes,
        # and its late binding balances the batches' unequal lengths (.route)
        if self._times is None or len(job.keys) != 1 or not self._engine_sender.available \
                or not self._direct_on():
            return None, None, None
        engine = self.router.pick(engines, self._times.tiny_mean(job.keys), job.timeout)
        if engine is None:
            return None, None, None
        try:
            with self._send_lock:  # numbered in the order the engine's queue gets them
                sent = self._engine_sender.send(engine, job.payload, job.keys)
                seq = next(self._seq)
                with self._lock:
                    self._unanswered.setdefault(engine, {})[seq] = False
        except Exception as exc:
            # the engine left since allowed() (IndexError, KeyError), or every engine did
            # (NoEnginesRegistered), or the client closed: the scheduler's path decides
            # (it queues the task, or raises ipyparallel's own clear error)
            log.debug("direct send to engine %s failed (%s); load-balanced", engine, exc)
            return None, None, None
        return engine, sent, seq

    def _route_ended(self, engine: int | None, names: frozenset[str]) -> Callable[[Any], None]:
        """A callback counting the task's route down once: at its reply, or when its
        future ends first (a dead engine or controller, whose reply may never come) --
        except by a timeout, since the task may still run on its engine."""
        once = threading.Lock()
        counted: list[bool] = []
        held = [names]  # what the route is counted under (a timeout makes it "unknown")

        def ended(f: Any) -> None:
            if getattr(f, "timed_out", False):
                # settled, but the task still holds its engine until the interrupt or the
                # shutdown ends it: only its reply counts it down, else tiny tasks would
                # queue behind it there (the HOL guard); a shut-down engine's tasks get
                # an EngineError reply from the scheduler. Its function may still be
                # known tiny: from now on it counts as a task of unknown length
                with once:
                    if not counted and engine is None and held[0] != _UNKNOWN:
                        self.router.sent(None, _UNKNOWN)
                        self.router.done(None, held[0])
                        held[0] = _UNKNOWN
                return
            with once:
                if counted:
                    return
                counted.append(True)
            self.router.done(engine, held[0])
        return ended

    def _answered(self, engine: int, seq: int) -> Callable[[Any], None]:
        """A callback forgetting direct attempt ``seq`` once ``engine`` answered it (any
        end but an engine death, which :meth:`_never_started` judges)."""
        def answered(f: Any) -> None:
            if not _engine_died(f):
                with self._lock:
                    waiting = self._unanswered.get(engine)
                    if waiting is not None:
                        waiting.pop(seq, None)
                        if not waiting:
                            del self._unanswered[engine]
        return answered

    def _never_started(self, fut: cf.Future) -> bool:
        """True when ``fut``, a direct attempt failed by its engine's death, only waited
        in that engine's queue behind an earlier attempt of ours: it never ran there, so
        it is sent again instead of counting as a lost worker (load-balanced, it would
        have waited in the scheduler and lost nothing)."""
        seq, engine = getattr(fut, "seq", None), getattr(fut, "engine", None)
        if seq is None or engine is None or not _engine_died(fut):
            return False
        with self._lock:
            waiting = self._unanswered.get(engine, {})
            if seq not in waiting:
                return False
            behind = next(iter(waiting)) != seq
            waiting[seq] = True  # lost; kept so the first stays first for the others
            if all(waiting.values()):
                del self._unanswered[engine]
        return behind

    def _finished(self, job: Job, fut: cf.Future) -> None:
        if job.done():
            return
        if job.cancel_asked and not fut.cancelled() and self._would_retry(job, fut):
            # the run was cancelled while this attempt ran: no other engine gets it now
            RemoteFuture.cancel(job)
            return
        behind = self._never_started(fut)
        if getattr(fut, "seq", None) is not None and _engine_died(fut):
            # a frozen engine, unregistered, may resume and run its queue: these tasks
            # are sent again (here or by the VM), so it must drop them
            self._engine_sender.abort(fut.engine, fut.ar.msg_ids)  # type: ignore[attr-defined]
        if behind and [e for e in self.allowed(job.targets) if e != fut.engine]:
            # only to another engine the job may use (its targets: those that see the
            # store); with none left the VM's lost-worker retry chooses targets anew
            job.tried.append(fut.engine)  # type: ignore[attr-defined]
            self._attempt(job)
            return
        ok, result = relay(fut, job)
        if not ok:
            return
        why = env_failure(result)
        engine = engine_of_receipts(result)
        if engine is None:
            engine = getattr(fut, "engine", None)
        if why and engine is not None:
            job.tried.append(engine)
            self.exclude(engine, why)
            if [e for e in self.allowed(job.targets) if e not in job.tried]:
                self._attempt(job)
                return
        job._settle(result=result)

    def _would_retry(self, job: Job, fut: cf.Future) -> bool:
        """True when :meth:`_finished` would send ``job`` to another engine: it only
        waited on a dead one, or it failed with an environment error."""
        if _engine_died(fut) and getattr(fut, "seq", None) is not None:
            return True
        try:
            result = fut.result()
        except BaseException:
            return False
        return bool(env_failure(result))

    def exclude(self, engine: int, why: str) -> None:
        """Take ``engine`` out of this run (a warning names it and says why)."""
        if engine in self.excluded:
            return
        self.excluded[engine] = why
        warnings.warn(
            f"engine {engine} failed a node with an environment error ({why[:200]}); it takes "
            "no more tasks of this run and the node is retried on another engine. Install the "
            "missing package in that engine's environment.", EngineExcludedWarning, stacklevel=2)

    # -- timeouts -----------------------------------------------------------------------
    def _timed_out(self, fut: TaskFuture, engine: int, ran: float) -> None:
        """Called by the watchdog once when ``fut`` ran past its timeout on ``engine``."""
        from ...vm.task import Receipt

        msg = (f"it ran for more than its timeout of {fut.timeout:g} s on engine {engine} and "
               "was stopped there. Raise node_timeout= (run) or timeout= (component), or make "
               "the node faster.")
        fut.timed_out = True  # before the settle: its route is counted down at the reply
        fut._settle(result=[Receipt(k, ok=False, engine=f"engine {engine}",
                                    error_type=TIMEOUT_ERROR, error_msg=msg, duration=ran)
                            for k in fut.keys])
        threading.Thread(target=self._stop_engine_task, args=(fut, engine),
                         name="pylearn-ipp-stop", daemon=True).start()

    def _stop_engine_task(self, fut: TaskFuture, engine: int) -> None:
        msg_id = fut.ar.msg_ids[0]
        if not self._still_running(msg_id):
            return
        try:
            self.client.send_signal("SIGINT", targets=[engine], block=False)
        except Exception as exc:
            log.warning("could not interrupt engine %s: %s", engine, exc)
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline:
            if not self._still_running(msg_id):
                return
            time.sleep(0.1)
        log.warning("engine %s ignored the interrupt of a timed-out node; shutting it down",
                    engine)
        warnings.warn(f"engine {engine} did not stop a timed-out node within {self.grace:g} s "
                      "of an interrupt; it was shut down.", EngineExcludedWarning, stacklevel=2)
        try:
            call_with_timeout(lambda: self.client.shutdown(targets=[engine], block=False), 5.0)
        except Exception as exc:
            log.warning("could not shut down engine %s: %s", engine, exc)

    def _still_running(self, msg_id: str) -> bool:
        return msg_id in self.client.outstanding
