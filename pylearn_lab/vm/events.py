"""Run events and the callbacks that observe them.

The VM emits one :class:`Event` per state change of a node, and ``finished``
at the end of a run. A callback is any callable ``cb(event)``; it observes and
never changes the run (a callback that raises is logged and ignored).

Examples
--------
>>> seen = []
>>> emit([seen.append], Event("done", "k" * 32, "f"))
>>> seen[0].kind
'done'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import Status

__all__ = ["Event", "Callback", "EVENT_KINDS", "emit", "Recorder"]

log = logging.getLogger(__name__)

EVENT_KINDS = (Status.QUEUED, Status.STARTED, Status.CACHED, Status.DONE, Status.FAILED,
               Status.SKIPPED, Status.FINISHED)
"""queued: planned, waiting for inputs; started: sent to the backend; cached: served
from the cache; done: computed (and stored); failed: raised; skipped: an input failed;
finished: the run ended (key is empty; info has the counts)."""

Callback = Callable[["Event"], Any]


@dataclass(frozen=True)
class Event:
    """One state change of one node (or of the whole run, for ``finished``).

    Attributes
    ----------
    kind : Status
        One of :data:`EVENT_KINDS` (a ``str`` enum: ``event.kind == "done"`` works).
    key : str
        The node key ("" for ``finished``).
    label : str
        Readable node name, e.g. ``"pca"``.
    time : float
        ``time.time()`` when it happened.
    info : dict
        Extra facts: ``duration``, ``engine``, ``error``, ``counts``...
    """

    kind: str
    key: str
    label: str
    time: float = field(default_factory=time.time)
    info: dict[str, Any] = field(default_factory=dict)


def emit(callbacks: Iterable[Callback], event: Event) -> None:
    """Deliver ``event`` to every callback; a failing callback never breaks the run."""
    for cb in callbacks:
        try:
            cb(event)
        except Exception:  # observers must not be able to break a run
            log.exception("run callback %r failed on %s", cb, event.kind)


class Recorder:
    """A callback that keeps every event (handy in tests and for post-mortems).

    Examples
    --------
    >>> r = Recorder()
    >>> r(Event("cached", "k", "f"))
    >>> r.kinds()
    ['cached']
    """

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self, key: str | None = None) -> list[str]:
        """Event kinds in order (for one node when ``key`` is given)."""
        return [e.kind for e in self.events if key is None or e.key == key]

    def count(self, kind: str) -> int:
        """How many events of ``kind``."""
        return sum(e.kind == kind for e in self.events)
