"""Where one task goes: through ipyparallel's task scheduler, or straight to an engine.

ipyparallel's load-balanced scheduler is a Python process in the controller.
It spends about 0.8 ms of CPU per task here, and it hands an engine its next
task only once the last one is back (``TaskScheduler.hwm = 1``). That is the
right policy for tasks of unknown length: none waits behind a long one while
another engine idles. For thousands of tasks that each take microseconds, the
scheduler's CPU is most of the cluster's work (benchmark P6).

A :class:`Router` sends a task straight to an engine's own queue (the MUX
queue, relayed in C by a zmq device) only when waiting there cannot cost
much:

* the task is one node (``batch_cap=1``, or a node alone because it has no
  tiny siblings ready) of a function this backend has timed at least three
  times, with a mean below :data:`~.batch.TINY` (20 ms). A batch of tiny nodes
  already pays the scheduler once for many nodes, and gains more from its late
  binding (an engine takes the next task only once it is free, so the end of a
  run is not held by one engine's queue): benchmark P12, whose tasks are
  batches, was 5-10 % slower with them sent direct;
* the task has no timeout (the watchdog starts a timeout's clock once the
  cluster names the task's engine: in an engine's queue, the wait would count);
* every load-balanced task of this backend still outstanding belongs to a
  function now known to be tiny, so a tiny task never queues behind one of our
  own long ones (or one of unknown length, such as a plain ``submit``);
* the engine with the fewest direct tasks has fewer than its depth: queued
  work of about :attr:`Router.budget` seconds at the function's mean, at least
  two (one running, one queued: the engine never waits on the notebook) and at
  most the backend's window per engine.

A timed-out load-balanced task counts as outstanding until its reply (it may
still hold its engine). When an engine dies or is given up (missed heartbeats)
with direct tasks of ours queued, only the first of them can have started:
the others are sent again without counting as a lost worker, and the engine is
asked to drop them in case it was only frozen (``jobs.Dispatcher``).

Everything else goes load-balanced, exactly as before. ``routing="balanced"``
(on the backend) turns direct sends off.

**Cost, stated:** the guess rests on recent timings. A function that was tiny
and turns slow can hold up to a depth's worth of its tasks on one engine
while another idles, until the first slow result comes back and moves the
rest to the scheduler. Tasks of other clients on the same cluster are not
seen: a direct task may queue behind one of theirs.

Examples
--------
>>> r = Router(depth_cap=lambda: 16, known_tiny=lambda name: name == "m.tiny")
>>> r.pick([0, 1], mean=1e-5, timeout=None)   # microseconds each: up to the cap
0
>>> r.sent(0); r.sent(0); r.pick([0, 1], mean=1e-5, timeout=None)
1
>>> r.sent(None, {"m.slow"}); r.pick([0, 1], mean=1e-5, timeout=None) is None  # could be long
True
>>> r.pick([0, 1], mean=None, timeout=None) is None   # not known to be tiny: scheduler
True
>>> r.depth(0.01)   # 10 ms each: 50 ms of queued work
5
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterable

__all__ = ["ROUTINGS", "Router"]

#: The values of ``IPyParallelBackend.routing``.
ROUTINGS = ("auto", "balanced")


class Router:
    """Counts this backend's outstanding tasks by route and picks each task's route.

    ``pick`` returns an engine id (send it there) or None (send it load-balanced);
    the caller reports each send with :meth:`sent` and its end with :meth:`done`
    (engine None for a load-balanced task, with the names of its functions).
    Thread-safe: replies end tasks on ipyparallel's IO thread.
    """

    #: seconds of queued work one engine may hold at a function's mean duration
    budget = 0.05

    def __init__(self, depth_cap: Callable[[], int],
                 known_tiny: Callable[[str], bool] = lambda name: False) -> None:
        self._depth_cap = depth_cap
        self._known_tiny = known_tiny
        self._direct: dict[int, int] = {}
        #: load-balanced tasks outstanding, by function name ("": unknown)
        self._balanced: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def depth(self, mean: float) -> int:
        """Direct tasks one engine may hold for a function of ``mean`` seconds."""
        by_budget = int(self.budget / mean) if mean > 0 else self._depth_cap()
        return max(2, min(self._depth_cap(), by_budget))

    def pick(self, engines: list[int], mean: float | None, timeout: float | None) -> int | None:
        """The engine to send a task to directly, or None for the scheduler."""
        if mean is None or timeout is not None or not engines:
            return None
        with self._lock:
            # a load-balanced task of ours that may be long could hold the engine chosen
            if not all(self._known_tiny(name) for name in self._balanced):
                return None
            engine = min(engines, key=lambda e: self._direct.get(e, 0))
            return engine if self._direct.get(engine, 0) < self.depth(mean) else None

    def sent(self, engine: int | None, names: Iterable[str] = ("",)) -> None:
        """One task was sent: to ``engine``, or load-balanced when None (its functions'
        ``names``)."""
        with self._lock:
            if engine is None:
                self._balanced.update(set(names) or {""})
            else:
                self._direct[engine] = self._direct.get(engine, 0) + 1

    def done(self, engine: int | None, names: Iterable[str] = ("",)) -> None:
        """A task :meth:`sent` the same way ended (its reply, or its engine's death)."""
        with self._lock:
            if engine is None:
                for name in set(names) or {""}:
                    if self._balanced[name] > 1:
                        self._balanced[name] -= 1
                    else:
                        self._balanced.pop(name, None)
            else:
                left = self._direct.get(engine, 0) - 1
                if left > 0:
                    self._direct[engine] = left
                else:
                    self._direct.pop(engine, None)

    @property
    def outstanding(self) -> tuple[int, int]:
        """``(direct, load-balanced)`` tasks outstanding."""
        with self._lock:
            return sum(self._direct.values()), sum(self._balanced.values())
