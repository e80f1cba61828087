"""The vocabulary of a run's state: what a node can be, and the counts a run reports.

:class:`NodeState` is the life of one node inside one run; :class:`Counts` is
the tally a :class:`~pylearn_lab.vm.handle.RunHandle` shows as ``progress``
(a dataclass with one field per count, so a misspelt count is an
``AttributeError``, not a silent new dict entry).

Life of a node::

    WAITING ──inputs ready──► READY ──claimed / submitted──► RUNNING ──► DONE
       │                        │                               │
       │                        └─ claimed by another run ──► ELSEWHERE ──► CACHED (it stored it)
       └─ an input failed ──► SKIPPED             RUNNING ──► FAILED (user code raised,
                                                              or its worker was lost too often)
    CACHED or DONE ──cannot be loaded──► WAITING (recomputed, never returned), and with it
    every UNNEEDED node upstream (not part of the run until then)

Examples
--------
>>> c = Counts(total=3, queued=3)
>>> c.start(); c.end("done")
>>> c.as_dict()
{'total': 3, 'cached': 0, 'done': 1, 'failed': 0, 'skipped': 0, 'running': 0, 'queued': 2}
>>> NodeState.DONE.finished, NodeState.RUNNING.finished
(True, False)
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass

__all__ = ["Counts", "NodeState"]


class NodeState(enum.Enum):
    """Where one node of a run stands (see the module docstring for the transitions)."""

    WAITING = "waiting"      # planned; some input not available yet
    READY = "ready"          # every input available; not yet claimed or submitted
    ELSEWHERE = "elsewhere"  # another run holds its claim: wait for it to be stored
    RUNNING = "running"      # submitted to the backend
    CACHED = "cached"        # served from the cache (planned so, or stored by another run)
    DONE = "done"            # computed by this run
    FAILED = "failed"        # its function raised, or its worker was lost past the retries
    SKIPPED = "skipped"      # an input failed, so it was never run
    UNNEEDED = "unneeded"    # upstream of a cached node: not part of this run

    @property
    def finished(self) -> bool:
        """True for the states that need no more work (CACHED, DONE, UNNEEDED may be demoted)."""
        return self in _FINISHED


_FINISHED = frozenset({NodeState.CACHED, NodeState.DONE, NodeState.FAILED, NodeState.SKIPPED,
                       NodeState.UNNEEDED})


@dataclass(slots=True)
class Counts:
    """How many nodes of a run are in each public state.

    ``queued`` counts nodes still to run (waiting, ready, or claimed elsewhere),
    ``running`` those submitted; the four others are final.
    """

    total: int = 0
    cached: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    running: int = 0
    queued: int = 0

    def start(self, n: int = 1) -> None:
        """``n`` queued nodes were submitted."""
        self.queued -= n
        self.running += n

    def requeue(self) -> None:
        """A submitted node goes back to the queue (lost worker, lost input)."""
        self.running -= 1
        self.queued += 1

    def end(self, kind: str) -> None:
        """A running node ended as ``"done"``, ``"failed"`` or ``"skipped"``."""
        self.running -= 1
        if kind == "done":
            self.done += 1
        elif kind == "failed":
            self.failed += 1
        else:
            self.skipped += 1

    def served(self) -> None:
        """A queued node turned out to be stored (by another run): no compute."""
        self.queued -= 1
        self.cached += 1

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict (what ``RunHandle.progress`` and events carry)."""
        return asdict(self)
