"""The garbage collector during a run: the heap that existed before it is left out.

Python's cyclic collector walks every tracked object of the oldest generation
a few times per second of heavy allocation. A run allocates in bursts (a
future, a task and a receipt per node), so those full collections come
during it -- and each one walks the whole notebook too: the expressions the
user built, the imported libraries, the data frames. Measured on P6 (2,000
nodes, one per task, on ipyparallel): the run spent 0.3-0.8 s of its 4.5 s
in the collector; with the pre-run heap frozen the run took 7 % less.

:func:`frozen_heap` freezes (``gc.freeze``) what exists when the first of
the process's concurrent runs starts and unfreezes it when the last one
ends. ``run()`` uses it only while its caller waits (``wait=True``, the
default): the caller's own objects cannot turn into garbage then. Objects
the run creates are collected as usual. **Cost:** cyclic garbage among the
*older* objects that another thread drops during such a run is collected
after the run instead of during it. A background run (``wait=False``) does
not freeze anything, so what the notebook drops meanwhile is freed as usual.
A process that froze its heap itself (``gc.get_freeze_count() > 0``, e.g. a
pre-fork server) or turned the collector off is left exactly as it is, and
so is one that froze it *during* a run: its own ``gc.freeze()`` covers what
we froze, as it would have without us.

**The bookkeeping walks no notebook object.** ``gc.get_freeze_count()`` walks
every frozen object. Session 5 read it twice per run, to tell a user's freeze
during the run from ours; with 3,000,000 tracked objects in the notebook that
added about 0.17 s to every run, however small -- 300 runs of 10 nodes took 52 s
instead of 0.13 s (found in session 7: the test suite's own heap made every
later test slow). The count also misjudged: frozen objects freed during the run
left it, so a user's freeze could look like none. Now it is read only while
nothing is frozen (free), and a *sentinel*, a list made right after our
freeze, tells: a later ``gc.freeze()`` takes it into the frozen set too, so at
the end it is in none of the collector's generations. Looking costs a walk of
the objects made or promoted since the freeze (the run's), not the notebook's.

Examples
--------
>>> import gc
>>> before = gc.get_freeze_count()
>>> with frozen_heap():
...     inside = gc.get_freeze_count()
>>> before == 0 and inside > 0 and gc.get_freeze_count() == 0
True
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["frozen_heap"]

_lock = threading.Lock()
_runs = 0  # runs of this process inside frozen_heap()
_sentinel: list[object] | None = None  # made after our freeze, while it is in force


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Within: the objects that existed when the first concurrent run began are frozen."""
    global _runs, _sentinel
    with _lock:
        # the count walks the frozen objects: none frozen (the usual case), it costs nothing
        if _runs == 0 and gc.isenabled() and gc.get_freeze_count() == 0:
            gc.freeze()
            _sentinel = []
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0 and _sentinel is not None:
                if not _frozen_since(_sentinel):
                    gc.unfreeze()
                _sentinel = None


def _frozen_since(sentinel: object) -> bool:
    """Whether user code called ``gc.freeze()`` after ``sentinel`` was made (and did not
    undo it): the sentinel is then frozen too, in none of the collector's generations.
    Those hold only what was made or promoted since our freeze (the run's objects).

    Each list is dropped before the next is made. A generator over all three (tried
    first) is itself in the list of generation 0: stopped early, it and the list it holds
    formed a cycle that kept every object of the run alive until the next collection --
    a closed cache's SQLite files stayed open (tests/reliability/test_faults.py).
    """
    for generation in range(3):
        objects = gc.get_objects(generation=generation)
        try:
            if any(o is sentinel for o in objects):  # identity: no user __eq__ runs
                return False
        finally:
            del objects
    return True
