"""Node states during and after a run, fed by the VM's events.

:class:`RunTracker` is the callback the builder passes to
:func:`pylearn_lab.run`: it maps each :class:`~pylearn_lab.vm.events.Event`
to a state per node *key* (queued, running, done, cached, failed, skipped).
States are kept by key, not by builder node, because a state describes a
computation: edit a parameter and the node's key changes, so its old state no
longer applies; undo the edit and it applies again. Events arrive on the run's
thread; a lock keeps the table consistent, and ``on_change`` tells the widget.

The run does not mention nodes it never needed (everything upstream of a
cached node): :meth:`RunTracker.finish` marks those ``cached`` when the cache
holds them.

Examples
--------
>>> from pylearn_lab.vm.events import Event
>>> t = RunTracker()
>>> t.start(["k1", "k2"])
>>> t(Event("started", "k1", "f"))
>>> t(Event("done", "k1", "f", info={"duration": 0.5}))
>>> t(Event("failed", "k2", "g", info={"error": "ValueError: bad"}))
>>> t.states["k1"]["state"], t.states["k1"]["note"], t.states["k2"]["error"]
('done', '0.50 s', 'ValueError: bad')
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import Status

__all__ = ["STATES", "RunTracker"]

#: Run states of a node, in the order the legend shows them (``str`` enum members, equal to
#: the strings the canvas colours by).
STATES = (Status.QUEUED, Status.RUNNING, Status.DONE, Status.CACHED, Status.FAILED,
          Status.SKIPPED)

# event kind -> drawn state; the two differ only for "started", drawn as "running"
_KIND_TO_STATE = {Status.QUEUED: Status.QUEUED, Status.STARTED: Status.RUNNING,
                  Status.CACHED: Status.CACHED, Status.DONE: Status.DONE,
                  Status.FAILED: Status.FAILED, Status.SKIPPED: Status.SKIPPED}


def _state(state: str, note: str = "", error: str = "") -> dict[str, str]:
    return {"state": state, "note": note, "error": error}


class RunTracker:
    """Per-key run states, updated from run events; see the module docstring."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self.states: dict[str, dict[str, str]] = {}
        self.lock = threading.RLock()
        self.on_change = on_change or (lambda: None)
        self.finished = threading.Event()
        self.finished.set()
        self.summary = ""
        self.counts: dict[str, int] = {}  # states of the last finished run
        self.values: dict[str, Any] = {}  # outputs of the last run, for previews
        self._keys: list[str] = []
        self._started = 0.0

    def start(self, keys: Iterable[str]) -> None:
        """A run of ``keys`` begins: every one of them is queued."""
        with self.lock:
            self._keys = list(dict.fromkeys(keys))
            for k in self._keys:
                self.states[k] = _state("queued")
            self.finished.clear()
            self.summary = "running…"
            self._started = time.monotonic()
        self.on_change()

    def abandon(self) -> None:
        """The run could not start: forget its queued states."""
        with self.lock:
            for k in self._keys:
                if self.states.get(k, {}).get("state") == "queued":
                    del self.states[k]
            self.summary = ""
            self.finished.set()
        self.on_change()

    def __call__(self, event: Any) -> None:
        """Apply one run event (the VM calls this on its thread)."""
        state = _KIND_TO_STATE.get(getattr(event, "kind", ""))
        key = getattr(event, "key", "")
        if state is None or not key:
            return
        info = getattr(event, "info", None) or {}
        note, error = "", ""
        if state == "done" and isinstance(info.get("duration"), (int, float)):
            note = f"{info['duration']:.2f} s"
        elif state == "running" and info.get("engine") is not None:
            note = f"on {info['engine']}"
        elif state == "failed":
            error = str(info.get("error") or "failed (no message)")
        elif state == "skipped":
            note = str(info.get("reason") or "")
        with self.lock:
            if state == "queued" and self.states.get(key, {}).get("state") in ("cached", "done"):
                return  # never step back from a final state
            self.states[key] = _state(state, note, error)
        self.on_change()

    def finish(self, future: cf.Future, outputs: list[str],
               contains: Callable[[str], bool] | None = None, settle: bool = True) -> None:
        """The run ended: settle leftover nodes and remember the output values.

        ``settle=False`` leaves :attr:`finished` unset, for a caller that still has
        to draw the outcome before waiters may look at it.
        """
        exc = future.exception() if not future.cancelled() else None
        with self.lock:
            if exc is None and not future.cancelled():
                values = future.result()
                self.values = dict(zip(outputs, values if isinstance(values, list) else [values]))
            for err in [exc, *getattr(exc, "others", [])] if exc is not None else []:
                key = getattr(err, "key", None)
                if key in self.states and self.states[key]["state"] != "failed":
                    self.states[key] = _state("failed", error=str(err))
            for k in self._keys:
                if self.states.get(k, {}).get("state") in ("queued", "running"):
                    in_cache = bool(contains and _safe(contains, k))
                    self.states[k] = _state("cached") if in_cache else _state("skipped", "not run")
            counts = self.counts = {s: 0 for s in STATES}
            for k in self._keys:
                counts[self.states[k]["state"]] += 1
            took = time.monotonic() - self._started
            parts = [f"{n} {s}" for s, n in counts.items() if n]
            if future.cancelled() or type(exc).__name__ == "RunCancelledError":
                self.summary = f"Run cancelled after {took:.1f} s: " + ", ".join(parts)
            elif exc is not None and not counts["failed"]:
                self.summary = f"Run stopped after {took:.1f} s: {type(exc).__name__}: {exc}"
            else:
                self.summary = f"Run finished in {took:.1f} s: " + ", ".join(parts)
        self.on_change()
        if settle:
            self.finished.set()

    def state_of(self, key: str | None) -> dict[str, str] | None:
        """The state of ``key`` (``None`` if it never ran)."""
        with self.lock:
            return dict(self.states[key]) if key in self.states else None


def _safe(contains: Callable[[str], bool], key: str) -> bool:
    try:
        return contains(key)
    except Exception:  # a cache that cannot answer must not hide the run's outcome
        return False
