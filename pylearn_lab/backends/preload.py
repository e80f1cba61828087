"""What a fresh worker process imports before its first task: the parent's heavy libraries.

A spawned worker is a new interpreter: the first task that needs scikit-learn
pays its import (0.8 s here) and pandas' (0.2 s) while the task waits, and a
worker started later (a pool spawns one per submit while none is idle) pays it
again, in the middle of the run. The process backend instead starts every
worker when it is created and has each import, in its initializer, the modules
of the scientific libraries the parent has already imported -- in parallel with
the client building and keying its graph, as joblib's loky workers start before
the first batch is dispatched.

Only installed libraries from :data:`PRELOAD_PACKAGES` are preloaded, never the
user's own modules: a worker checks user modules for edits before each task
(it re-imports an edited one), and a module imported before that first check
could run old code under a new key. A module that fails to import is skipped
(the task that needs it reports the error where it happens).

A preload never holds up work: a :class:`Board` shared by the pool counts the
tasks waiting and the workers idle, and a worker still preloading stops (after
the module it is importing) as soon as a task waits with no idle worker to take
it. The first task of a run (typically loading the data, then a chain of small
steps) goes to the first worker up, which imports only what it needs, while
the others finish preloading for the tasks that fan out after it.

Examples
--------
>>> import numpy
>>> names = parent_modules()
>>> "numpy" in names and all(n.split(".")[0] in PRELOAD_PACKAGES for n in names)
True
>>> parent_modules(["json", "numpy"]) == ("json", "numpy")  # an explicit list is kept as is
True
>>> preload(("json", "no_such_module_here")) == ("json",)
True
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import BackendError

__all__ = ["PRELOAD_PACKAGES", "Board", "parent_modules", "preload"]

#: Top-level packages whose imported modules a worker preloads (large import times,
#: and the libraries whose objects a task unpickles first).
PRELOAD_PACKAGES = frozenset({"numpy", "scipy", "pandas", "sklearn", "pyarrow", "polars",
                              "threadpoolctl", "joblib"})


def _public(name: str) -> bool:
    # private modules come with the public ones that import them; tests are never wanted
    return not any(part.startswith("_") or part in ("tests", "conftest")
                   for part in name.split("."))


def parent_modules(names: Iterable[str] | None = None) -> tuple[str, ...]:
    """The module names a worker should import: ``names``, or this process's own.

    Without ``names``: the public modules of :data:`PRELOAD_PACKAGES` already
    imported here, in the order they were imported. ``names`` (a list of module
    names) replaces that choice; an empty list preloads nothing.
    """
    if names is not None:
        if isinstance(names, str):
            names = [names]
        try:
            out = tuple(names)
        except TypeError:
            out = (names,)  # type: ignore[assignment]
        bad = [n for n in out if not isinstance(n, str) or not n]
        if bad:
            raise BackendError(
                f"preload= expected a list of module names (e.g. ['sklearn.ensemble']), "
                f"received {names!r}. Pass [] to preload nothing, or leave it out to preload "
                f"the scientific libraries this process has imported.")
        return out
    return tuple(name for name, mod in list(sys.modules.items())
                 if name.split(".")[0] in PRELOAD_PACKAGES and _public(name)
                 and isinstance(mod, types.ModuleType))


_WAITING, _IDLE, _CLAIMED, _UP = range(4)


class Board:
    """Counts shared by a pool and its workers: tasks waiting, workers idle, claims.

    The parent calls :meth:`submitted` per task; a worker calls :meth:`started`
    and :meth:`finished` around each task, :meth:`should_stop` between the
    modules it preloads and :meth:`ready` when its start-up is over. A worker
    that stops preloading *claims* one waiting task, so of several workers still
    preloading only as many stop as there are tasks to take. The counts steer
    only when workers import; they never decide what runs or where.

    Examples
    --------
    >>> import multiprocessing
    >>> b = Board(multiprocessing.get_context("spawn"))
    >>> b.should_stop()            # nothing waits: keep preloading
    False
    >>> b.submitted(); b.should_stop(), b.should_stop()  # one task: one worker stops
    (True, False)
    >>> b.ready(claimed=True); b.started(); b.finished(); b.counts()  # ran it, idle again
    (0, 1, 0)
    >>> b.up
    1
    """

    def __init__(self, ctx: Any) -> None:
        self._a = ctx.Array("q", 4, lock=True)  # shared memory: passes to spawned workers

    def counts(self) -> tuple[int, int, int]:
        """``(waiting, idle, claimed)``."""
        with self._a.get_lock():
            return tuple(self._a[:3])  # type: ignore[return-value]

    @property
    def up(self) -> int:
        """How many workers have finished their start-up."""
        with self._a.get_lock():
            return int(self._a[_UP])

    def submitted(self) -> None:
        with self._a.get_lock():
            self._a[_WAITING] += 1

    def should_stop(self) -> bool:
        """True (and a claim taken) when a task waits that no idle worker will take."""
        with self._a.get_lock():
            a = self._a
            if a[_WAITING] > a[_IDLE] + a[_CLAIMED]:
                a[_CLAIMED] += 1
                return True
            return False

    def ready(self, claimed: bool = False) -> None:
        """This worker's start-up is over: it is idle (its claim, if any, with it)."""
        with self._a.get_lock():
            self._a[_IDLE] += 1
            self._a[_UP] += 1
            if claimed:
                self._a[_CLAIMED] -= 1

    def started(self) -> None:
        with self._a.get_lock():
            self._a[_WAITING] = max(0, self._a[_WAITING] - 1)
            self._a[_IDLE] = max(0, self._a[_IDLE] - 1)

    def finished(self) -> None:
        with self._a.get_lock():
            self._a[_IDLE] += 1


def preload(names: Iterable[str], stop: Callable[[], bool] | None = None) -> tuple[str, ...]:
    """Import ``names`` in this process; returns those that imported.

    ``stop`` is asked before each import that is not done yet; when it answers
    True the preload ends there. Import warnings are silenced (the parent,
    which imported the same modules, has shown them); an import error skips
    the module.
    """
    done = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            if name in sys.modules:
                done.append(name)
                continue
            if stop is not None and stop():
                break
            try:
                importlib.import_module(name)
            except (Exception, SystemExit):  # the task that needs it raises it, where it belongs
                continue
            done.append(name)
    return tuple(done)
