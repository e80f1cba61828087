"""What a worker executes: one node (or a batch of nodes) and a small receipt.

A :class:`Task` carries the function, the arguments with :class:`Ref`
placeholders, and either the input values (shipped) or a cache spec the
worker opens itself to load inputs (memory-mapped, no copy) and save the
output. The worker returns a :class:`Receipt`: key, timing, host and -- only
when asked -- the value. User exceptions are captured into the receipt with
their traceback formatted where they happened; they are never raised through
the backend, so a failure in user code is never mistaken for a lost worker.

Examples
--------
>>> from pylearn_lab.graph.nodes import Call
>>> t = Task(Call(abs, (-2,), {}, "k" * 32, "abs"), return_value=True)
>>> execute(t).value
2
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from contextvars import ContextVar
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from ..cache.warn import captured, new_run
from ..graph.expr import resolve_args
from ..graph.nodes import Call
from .isolate import READ_ONLY_HINT, guarded, unshare_literals

__all__ = ["Task", "Receipt", "execute", "execute_batch", "execute_pickled", "worker_name",
           "running_task"]

_HOST = socket.gethostname()


def worker_name() -> str:
    """``engine N`` on an ipyparallel engine (the backend sets ``PYLEARN_ENGINE_ID``),
    else ``host:pid``."""
    engine = os.environ.get("PYLEARN_ENGINE_ID")
    return f"engine {engine}" if engine is not None else f"{_HOST}:{os.getpid()}"


@dataclass
class Task:
    """One node to compute.

    Attributes
    ----------
    call : Call
        The node.
    inputs : dict
        ``key -> value`` for inputs shipped with the task.
    cache : object
        A :class:`~pylearn_lab.cache.Cache` (same process), a cache spec
        (another process opens it), or None.
    store : bool
        Save the output into ``cache``.
    return_value : bool
        Put the value into the receipt.
    record : dict
        The recipe half of the experiment record (function, parameters, inputs).
    timeout : float, optional
        Seconds the node may run; a backend that can stop a node (ipyparallel)
        stops it past this and reports a node error. Others ignore it.
    fresh : callable, optional
        In process only: re-checks the node's key once it has computed, before
        anything is stored (a background run, where the caller's code goes on
        meanwhile); raises :class:`~pylearn_lab.errors.StaleKeyError` when the
        inputs or code changed while the node ran.
    """

    call: Call
    inputs: dict[str, Any] = field(default_factory=dict)
    cache: Any = None
    store: bool = False
    return_value: bool = False
    record: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    fresh: Callable[[], None] | None = None


@dataclass
class Receipt:
    """What a worker sends back for one node."""

    key: str
    ok: bool
    duration: float = 0.0
    host: str = ""
    pid: int = 0
    engine: str = ""
    stored: bool = False
    value: Any = None
    has_value: bool = False
    error_type: str = ""
    error_msg: str = ""
    traceback: str = ""
    warning: str = ""
    warning_cause: str = ""  # set for a cache warning the client should show (once per run)
    missing_input: str = ""  # an input the cache was expected to hold but could not serve


# (call, cache) of the node this thread is computing: lets a long component (a training
# loop, pylearn_lab.training) find the cache it runs against and its own arguments' keys.
_RUNNING: ContextVar[tuple[Call, Any] | None] = ContextVar("pylearn_running_task", default=None)


def running_task() -> tuple[Call, Any] | None:
    """``(call, cache)`` of the node being computed in this thread, None outside a task.

    ``cache`` is the opened :class:`~pylearn_lab.cache.Cache` of the run (None when
    the run does not cache).
    """
    return _RUNNING.get()


def _open_cache(cache: Any) -> Any:
    if cache is None or hasattr(cache, "lookup"):
        return cache
    from ..cache.cache import Cache

    return Cache.from_spec(cache)


def execute(task: Task, local: dict[str, Any] | None = None, engine: str | None = None
            ) -> Receipt:
    """Run one task; never raises for errors in user code (they go in the receipt).

    ``local`` holds values computed earlier in the same batch; ``engine`` is
    :func:`worker_name` when the caller has it already (once per batch).
    """
    call = task.call
    receipt = Receipt(call.key, ok=False, host=_HOST, pid=os.getpid(),
                      engine=worker_name() if engine is None else engine)
    try:
        cache = _open_cache(task.cache)
        values = dict(task.inputs)
        for k in call.inputs:
            if k in values:
                continue
            if local is not None and k in local:
                values[k] = guarded(local[k])  # a batch's nodes share nothing they can change
            elif cache is not None:
                try:
                    values[k] = cache.load(k, count=False)  # the run loop counts hits
                except KeyError:
                    receipt.missing_input = k  # evicted or broken since planning: recompute it
                    raise
            else:
                raise KeyError(f"input {k[:12]} is neither shipped nor in a cache")
        args, kwargs = resolve_args(call, values)
    except Exception as exc:
        receipt.error_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
        receipt.error_msg = f"could not load the inputs: {exc}"
        receipt.traceback = traceback.format_exc()
        return receipt
    t0 = time.perf_counter()
    token = _RUNNING.set((call, cache))
    try:
        value = call.func(*args, **kwargs)
    except BaseException as exc:
        # KeyboardInterrupt stops the run; SystemExit from the node's own code (sys.exit(),
        # exit()) is a failure of that node like any other: as a lost worker it was retried,
        # running the node's side effects twice
        if isinstance(exc, KeyboardInterrupt):
            raise
        receipt.duration = time.perf_counter() - t0
        receipt.error_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
        receipt.error_msg = _message(exc)
        # drop this frame: the traceback starts in the user's function
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        receipt.traceback = "".join(traceback.format_exception(type(exc), exc, tb))
        return receipt
    finally:
        _RUNNING.reset(token)
    receipt.duration = time.perf_counter() - t0
    if _changed_while_running(task, receipt):
        return receipt
    receipt.ok = True
    if local is not None:
        local[call.key] = value
    if task.store and cache is not None and not _store(task, cache, value, receipt):
        return receipt
    if task.return_value or (task.store and not receipt.stored and cache is not None
                             and not hasattr(task.cache, "lookup")):
        receipt.value, receipt.has_value = value, True
    return receipt


def _store(task: Task, cache: Any, value: Any, receipt: Receipt) -> bool:
    """Save ``value`` under the node's key; False when that failed the node (``receipt``
    says why: in another process, a value that cannot be stored cannot travel either)."""
    call = task.call
    record = {**task.record, "duration": receipt.duration, "host": _HOST,
              "pid": receipt.pid, "engine": receipt.engine, "created": time.time()}
    try:
        # False also means "someone stored it first": then it is there to load
        if hasattr(task.cache, "lookup"):  # in process: its warnings reach the user as is
            stored = cache.save(call.key, value, record)
        else:
            stored, receipt.warning, receipt.warning_cause = _save_in_worker(
                cache, call.key, value, record)
        receipt.stored = stored or bool(cache.contains_many([call.key]))
    except Exception as exc:
        if not hasattr(task.cache, "lookup"):
            # in another process the value can travel only pickled: this is the node's error
            receipt.ok = False
            receipt.error_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
            receipt.error_msg = f"its output cannot be stored or sent back: {exc}"
            return False
        receipt.warning = f"result of {call.label} not cached: {exc}"  # in process: flows on
    return True


def _changed_while_running(task: Task, receipt: Receipt) -> bool:
    """True (and ``receipt`` says why) when ``task.fresh`` finds the node's inputs or code
    changed while it ran: its value matches neither the key nor the new inputs, so it is
    neither stored nor returned."""
    if task.fresh is None:
        return False
    from ..errors import StaleKeyError

    try:
        task.fresh()
    except StaleKeyError as exc:
        receipt.error_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
        receipt.error_msg = (
            "its arguments or code changed while it ran in a background run (wait=False), "
            f"so its result was neither stored nor returned ({exc}). Leave a running node's "
            "inputs alone until the run ends (handle.result()), or call the component "
            "again with the new values and run that.")
        return True
    return False


def _message(exc: BaseException) -> str:
    """The text of a node's error; writing into a (read-only) input says what to do."""
    try:
        msg = str(exc)
    except Exception:  # raised here it escaped execute(): taken for a lost worker, retried
        msg = f"<the {type(exc).__name__} could not be printed>"
    if isinstance(exc, ValueError) and "read-only" in msg:
        msg += f" ({READ_ONLY_HINT})"
    return msg


def _save_in_worker(cache: Any, key: str, value: Any, record: dict[str, Any]
                    ) -> tuple[bool, str, str]:
    """Save in a worker process, handing the cache's warnings back to the client: a
    worker's stderr is nobody's screen (a result over ``max_bytes`` must still say so
    in the notebook). Returns ``(stored, message, cause)``."""
    new_run()  # here each task is its own window; the client shows each cause once per run
    with captured() as caught:  # this thread's only: a worker may save in several at once
        stored = cache.save(key, value, record)
    for w in caught:
        return stored, str(w), getattr(w, "cause", "") or "worker"
    return stored, "", ""


def execute_batch(tasks: list[Task]) -> list[Receipt]:
    """Run several tasks in order in one worker call (tiny nodes, chains).

    Outputs of earlier tasks feed later ones directly in memory; a failed task
    makes the tasks that read it fail too (with the upstream error named).
    """
    local: dict[str, Any] = {}
    failed: dict[str, str] = {}
    out = []
    # values shipped in one payload are unpickled once: tasks reading the same one share it
    readers: dict[str, int] = {}
    for t in tasks:  # (in process these are guarded twice: batching there is rare)
        for k in t.inputs:
            readers[k] = readers.get(k, 0) + 1
    # literal arrays and objects several nodes were built from are unpickled once, too
    for t, c in zip(tasks, unshare_literals([t.call for t in tasks])):
        t.call = c
    engine = worker_name()  # read once per batch, not per node (an environment lookup)
    for t in tasks:
        if any(readers.get(k, 0) > 1 for k in t.inputs):
            t.inputs = {k: guarded(v) if readers.get(k, 0) > 1 else v for k, v in t.inputs.items()}
        bad = [k for k in t.call.inputs if k in failed]
        if bad:
            out.append(Receipt(t.call.key, ok=False, host=_HOST, pid=os.getpid(),
                               error_type="skipped", error_msg=f"input {failed[bad[0]]} failed"))
            failed[t.call.key] = t.call.label
            continue
        r = execute(t, local, engine)
        if not r.ok:
            failed[t.call.key] = t.call.label
        out.append(r)
    return out


def execute_pickled(payload: bytes) -> bytes:
    """:func:`execute` (or :func:`execute_batch`) of cloudpickled tasks, receipts cloudpickled.

    For executors that pickle with the standard library (``ProcessPoolExecutor``),
    which cannot send a notebook function or a decorated component by value.
    """
    import cloudpickle

    tasks = cloudpickle.loads(payload)
    out = execute_batch(tasks) if isinstance(tasks, list) else execute(tasks)
    return cloudpickle.dumps(out, protocol=5)

