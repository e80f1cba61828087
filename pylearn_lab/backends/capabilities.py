"""What a backend can do, reported once per run: the seam between backends and the VM.

A backend runs callables (``submit(fn, *args) -> Future``); the VM decides how
nodes become calls. To decide, it reads one :class:`Capabilities` report per
run from :func:`capabilities_of`: whether workers share this process (live
values), how many tasks run at once, how many tiny nodes to put in one task,
whether tasks may carry notebook functions as they are (cloudpickle) or must
be pickled by the VM first, whether workers open the cache themselves, and
which functions are known to be slow.

A backend that handles the VM's tasks itself -- its own data plane, its own
timeouts or receipts -- offers a :class:`TaskPlane`: the VM then sends every
task of the run through :meth:`TaskPlane.submit_tasks` instead of
``submit(execute_batch, tasks)``. Its ``submit`` stays a plain "run this
callable". The VM still decides the grouping and makes the failure receipts
of tasks that cannot be pickled (a plane raises
:class:`~pylearn_lab.errors.UnpicklableError` for them).

Any ``concurrent.futures.Executor`` is a backend: it gets a default report
(:func:`default_capabilities`), and a ``ProcessPoolExecutor``, which pickles
with the standard library, is told to receive cloudpickled tasks.

Examples
--------
>>> import concurrent.futures as cf
>>> from pylearn_lab.backends import SerialBackend
>>> caps = capabilities_of(SerialBackend())
>>> caps.in_process, caps.workers, caps.task_plane is None
(True, 1, True)
>>> with cf.ProcessPoolExecutor(1) as pool:
...     capabilities_of(pool).pickles_by_value
False
>>> with cf.ThreadPoolExecutor(1) as pool:
...     capabilities_of(pool).in_process
True
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..errors import BackendError

__all__ = ["Capabilities", "TaskPlane", "capabilities_of", "default_capabilities"]


@runtime_checkable
class TaskPlane(Protocol):
    """A backend's own path for the VM's tasks (ipyparallel's store data plane, dask, the queue).

    Both methods are called by the VM only: ``sees_store`` once per run (it
    may block while workers are asked), ``submit_tasks`` per group of ready
    nodes the VM formed.
    """

    def sees_store(self, cache: Any) -> bool:
        """True when the run's data goes through ``cache`` (tasks carry its spec, not values)."""
        ...

    def submit_tasks(self, tasks: list[Any]) -> cf.Future[Any]:
        """Run ``tasks`` (``vm.task.Task`` objects, in order, as one unit where possible).

        The future's result is the list of ``vm.task.Receipt`` (or one receipt for a
        single task). Raises :class:`~pylearn_lab.errors.UnpicklableError` at once
        when the tasks cannot travel: the VM turns that into node errors.
        """
        ...


@dataclass(frozen=True)
class Capabilities:
    """What a backend reports about itself (see the module docstring).

    Attributes
    ----------
    in_process : bool
        Workers share this process: tasks carry live values and the live cache.
    workers : int
        Tasks that can run at once (a hint; 0 when unknown).
    batch_hint : callable, optional
        ``n_ready -> nodes per task``: tiny-node batching for backends whose
        per-task cost dominates tiny nodes. None: one node per task.
    task_overhead : float, optional
        Seconds each task costs besides its nodes (documentation and
        benchmarks; the batch size comes from ``batch_hint``).
    pickles_by_value : bool
        Tasks may carry notebook functions and components as they are (the
        backend cloudpickles, or does not pickle). False: the backend pickles
        with the standard library, so the VM cloudpickles tasks itself.
    sees_store : callable, optional
        ``cache -> bool``: workers open the cache themselves from its spec
        (keys travel, not values). Not asked when there is a ``task_plane``.
    is_slow : callable, optional
        ``task -> bool``: the task's function is known (from timings) to take
        longer than a tiny node; the VM sends such tasks one per task.
    task_plane : TaskPlane, optional
        The backend's own path for VM tasks (see :class:`TaskPlane`).
    max_pending : int, optional
        Most submissions the backend wants outstanding at once (None: no limit).
        The VM claims every ready node as before but sends more only as earlier
        ones finish, so the client holds the tasks, futures and payloads of a
        window, not of a whole sweep.
    """

    in_process: bool = False
    workers: int = 1
    batch_hint: Callable[[int], int] | None = None
    task_overhead: float | None = None
    pickles_by_value: bool = True
    sees_store: Callable[[Any], bool] | None = None
    is_slow: Callable[[Any], bool] | None = None
    task_plane: TaskPlane | None = None
    max_pending: int | None = None

    def __post_init__(self) -> None:
        m = self.max_pending
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise BackendError(
                f"Capabilities(max_pending=) must be a number of submissions >= 1 or None "
                f"(no limit), received {type(m).__name__} {m!r:.40}.")


def default_capabilities(executor: Any) -> Capabilities:
    """The report for an object without ``capabilities()``: any ``Executor`` qualifies.

    Optional attributes older custom backends have are honoured: ``in_process``,
    ``workers``, ``batch_hint(n)`` and ``sees_store(cache)``. A
    ``ThreadPoolExecutor`` runs in this process (``in_process=True``: live values,
    as the ``threads`` backend). A ``ProcessPoolExecutor`` pickles with the
    standard library (``pickles_by_value=False``); its workers see nothing of
    the cache. Any other executor is assumed to run elsewhere, values travelling.
    """
    workers = getattr(executor, "workers", None)
    if workers is None:
        workers = getattr(executor, "_max_workers", 1)
    hint = getattr(executor, "batch_hint", None)
    sees = getattr(executor, "sees_store", None)
    return Capabilities(
        in_process=bool(getattr(executor, "in_process",
                                isinstance(executor, cf.ThreadPoolExecutor))),
        workers=int(workers) if isinstance(workers, int) else 1,
        batch_hint=hint if callable(hint) else None,
        pickles_by_value=not isinstance(executor, cf.ProcessPoolExecutor),
        sees_store=sees if callable(sees) else None,
    )


def capabilities_of(backend: Any) -> Capabilities:
    """``backend.capabilities()`` when it has one, else :func:`default_capabilities`.

    Raises
    ------
    BackendError
        ``capabilities()`` returned something other than a :class:`Capabilities`.
    """
    report = getattr(backend, "capabilities", None)
    if not callable(report):
        return default_capabilities(backend)
    caps = report()
    if not isinstance(caps, Capabilities):
        raise BackendError(
            f"{type(backend).__name__}.capabilities() must return a "
            f"pylearn_lab.backends.capabilities.Capabilities, received {type(caps).__name__}. "
            "Return Capabilities(...), or drop capabilities() to get the default report.")
    return caps
