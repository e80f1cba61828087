"""Local backends: serial (in the caller), threads, and a process pool.

A backend is anything with ``submit(fn, *args, **kwargs) -> Future`` and
``close()`` -- any ``concurrent.futures.Executor`` qualifies. What it can do
besides, the VM reads once per run from :meth:`Backend.capabilities` (see
:mod:`.capabilities`): whether values may be handed over live
(``in_process``), whether workers can open the cache directory themselves
(``sees_store``) and how many tiny nodes to send per task (``batch_hint``).

Examples
--------
>>> b = SerialBackend()
>>> b.submit(pow, 2, 10).result()
1024
>>> with ThreadBackend(2) as t:
...     t.submit(abs, -3).result()
3
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import cloudpickle

from ..errors import BackendError, UnpicklableError
from .capabilities import Capabilities
from .preload import Board, parent_modules, preload
from .threadlimits import limit_threads, thread_budget

__all__ = ["Backend", "SerialBackend", "ThreadBackend", "ProcessBackend"]


class Backend:
    """Base class with the capabilities report; subclasses implement :meth:`submit`."""

    name = "backend"
    in_process = False

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)``; the future holds its return value (or its exception).

        Raises :class:`~pylearn_lab.errors.UnpicklableError` at once when the call must
        travel and cannot be pickled.
        """
        raise NotImplementedError

    def capabilities(self) -> Capabilities:
        """What the VM may rely on (read once per run; must not block)."""
        return Capabilities(in_process=self.in_process, workers=self.workers,
                            batch_hint=self.batch_hint, sees_store=self.sees_store)

    def sees_store(self, cache: Any) -> bool:
        """True when workers can open ``cache`` themselves (same host, shared disk)."""
        return self.in_process or bool(cache is not None and cache.shareable)

    def batch_hint(self, n_ready: int) -> int:
        """How many ready nodes to send in one task (1: one node per task)."""
        return 1

    @property
    def workers(self) -> int:
        """How many tasks can run at once."""
        return 1

    def close(self) -> None:
        """Release workers."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}, {self.workers} workers>"


class SerialBackend(Backend):
    """Runs each task at once, in the calling thread: simplest, debuggable."""

    name = "serial"
    in_process = True

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            fut.set_exception(exc)
        return fut


class ThreadBackend(Backend):
    """A thread pool in this process (good for numpy code that releases the GIL)."""

    name = "threads"
    in_process = True

    def __init__(self, max_workers: int | None = None) -> None:
        self._n = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._pool = ThreadPoolExecutor(self._n, thread_name_prefix="pylearn")

    @property
    def workers(self) -> int:
        return self._n

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


_BOARD: Board | None = None  # this worker's view of its pool's counts (set at start-up)


def _init_worker(threads: int | None, modules: tuple[str, ...] = (),
                 board: Board | None = None) -> None:
    """Start of each worker process: no SIGINT of its own, the thread budget, the preload.

    Ctrl-C, or a kernel interrupted or shut down, signals the whole process
    group; the parent decides what happens to the run (and shuts the pool down),
    so a worker printing its own KeyboardInterrupt traceback is only noise.
    The budget is set before the preload (libraries read ``OMP_NUM_THREADS`` and
    friends when they load) and again after it, for pools the preload started.
    The preload ends early when a task waits for this worker (see ``board``).
    """
    global _BOARD
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)
    _BOARD = board
    claimed = False
    if modules:
        def stop() -> bool:
            nonlocal claimed
            claimed = board is not None and board.should_stop()
            return claimed

        preload(modules, stop)
        limit_threads(threads)
    # stamp what start-up imported (the parent's __main__, the preload): a user module
    # edited from now on is re-imported before the next task, not trusted as imported
    _refresh_user_modules(reload=False)
    if board is not None:
        board.ready(claimed)


def _unguarded_main_script() -> str | None:
    """The path of ``__main__`` when it is a script with no ``if __name__ == "__main__":``.

    Spawned workers re-import ``__main__``: such a script would start pools again in
    every worker, and each worker would die with a bootstrapping error.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path or getattr(main, "__spec__", None) is not None:
        return None  # interactive, -c, a kernel, or `python -m pkg` (guarded by convention)
    if multiprocessing.parent_process() is not None:
        return None  # we are a worker ourselves
    try:
        tree = ast.parse(open(path, encoding="utf-8").read())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.If) and "__name__" in ast.dump(node.test):
            return None
    return path


_SEEN: dict[str, tuple[int, int]] = {}
_WATCHED: dict[str, str] = {}
_LIBRARY_ROOTS = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix,
                                                      sys.exec_prefix)})


def _refresh_user_modules(reload: bool = True) -> None:
    """Re-import user modules whose file changed since this worker imported them.

    The parent (a notebook that edited and reloaded a module) keys its nodes by
    the new code; a long-lived worker would otherwise run the old import under
    the new key. Installed libraries (under the interpreter's prefix) are not
    watched: one ``stat`` per user module per task.
    """
    import importlib

    for name, mod in list(sys.modules.items()):
        if name not in _WATCHED:  # classify each module once: a user file, or not watched
            path = getattr(mod, "__file__", None)
            real = os.path.realpath(path) if isinstance(path, str) and path.endswith(".py") else ""
            _WATCHED[name] = "" if not real or real.startswith(_LIBRARY_ROOTS) else real
        real = _WATCHED[name]
        if not real:
            continue
        try:
            st = os.stat(real)
        except OSError:
            continue
        stamp = (st.st_mtime_ns, st.st_size)
        before = _SEEN.setdefault(name, stamp)
        if reload and before != stamp:
            _SEEN[name] = stamp
            try:
                importlib.reload(mod)
            except Exception:  # the task itself will report what is wrong with the module
                pass


def _call_pickled(payload: bytes) -> bytes:
    if _BOARD is not None:
        _BOARD.started()
    _refresh_user_modules()
    try:
        fn, args, kwargs = cloudpickle.loads(payload)
        return cloudpickle.dumps(fn(*args, **kwargs), protocol=5)
    finally:  # stamp the modules this task imported, as they were when imported
        _refresh_user_modules(reload=False)
        if _BOARD is not None:
            _BOARD.finished()


class ProcessBackend(Backend):
    """A local process pool: no server to start, functions travel by cloudpickle.

    Workers are started with ``spawn`` (safe with threads in the parent, e.g. a
    Jupyter kernel). Functions defined in a notebook or in ``__main__`` are
    pickled by value, so they work here too; scripts need the usual
    ``if __name__ == "__main__":`` guard (a script without one is refused at
    once, with that advice, instead of failing in every worker).

    Parameters
    ----------
    max_workers : int, optional
        Worker processes (default: the number of cores).
    threads_per_worker : int or False, optional
        BLAS/OpenMP threads each worker may use: by default cores ÷ workers (as
        joblib's loky does), so the workers together never oversubscribe the
        cores; an int sets it; ``False`` leaves the libraries' own defaults.
        See :mod:`pylearn_lab.backends.threadlimits`.
    preload : list of str, optional
        Modules each worker imports when it starts. By default the modules of the
        scientific libraries (numpy, pandas, scikit-learn, ...) this process has
        already imported; ``[]`` preloads nothing. See
        :mod:`pylearn_lab.backends.preload`.

    Notes
    -----
    All the workers start when the backend is created, each importing its
    preload, so they boot in parallel while the client builds and keys the
    graph, and none starts in the middle of a run (a pool left to itself spawns
    a worker per submit while none is idle). The price: ``max_workers``
    processes with those libraries loaded (about 200 MB each with
    scikit-learn and pandas, against 45 MB), from creation to :meth:`close`,
    used or not.
    """

    name = "processes"

    def __init__(self, max_workers: int | None = None,
                 threads_per_worker: int | bool | None = None,
                 preload: list[str] | tuple[str, ...] | None = None) -> None:
        script = _unguarded_main_script()
        if script is not None:
            raise BackendError(
                f"the 'processes' backend starts workers that re-import the main script "
                f"{os.path.basename(script)}, which has no `if __name__ == \"__main__\":` guard, "
                "so every worker would run the whole script again. Put the script's top-level "
                "code under `if __name__ == \"__main__\":`, or use backend='threads'.")
        self._n = max_workers or (os.cpu_count() or 1)
        self.threads_per_worker = thread_budget(self._n, threads=threads_per_worker)
        self.preload = parent_modules(preload)
        ctx = multiprocessing.get_context("spawn")
        self._board = Board(ctx)
        self._pool = ProcessPoolExecutor(self._n, mp_context=ctx, initializer=_init_worker,
                                         initargs=(self.threads_per_worker, self.preload,
                                                   self._board))
        # start every worker now: each submit spawns one while none is idle yet
        self._started = [self._pool.submit(int) for _ in range(self._n)]

    @property
    def workers(self) -> int:
        return self._n

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every worker has started (its preload done or cut short).

        Returns False if ``timeout`` seconds passed first; raises the pool's
        ``BrokenProcessPool`` if a worker died starting. A run never needs this
        (tasks queue until a worker takes them); it makes a timing start warm.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._board.up < self._n:
            for f in self._started:
                exc = f.exception() if f.done() and not f.cancelled() else None
                if exc is not None:
                    raise exc
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        try:
            payload = cloudpickle.dumps((fn, args, kwargs), protocol=5)
        except Exception as exc:
            raise UnpicklableError("the task", fn, exc) from exc
        self._board.submitted()
        inner = self._pool.submit(_call_pickled, payload)
        outer: Future = Future()

        def relay(f: Future) -> None:
            if f.cancelled():
                outer.cancel()
                outer.set_running_or_notify_cancel()
            elif f.exception() is not None:
                outer.set_exception(f.exception())
            else:
                try:
                    outer.set_result(cloudpickle.loads(f.result()))
                except BaseException as exc:
                    outer.set_exception(exc)

        inner.add_done_callback(relay)
        return outer

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
