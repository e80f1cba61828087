"""A progress bar for runs (tqdm: text in a terminal, a widget in a notebook).

Shown only when a run lasts longer than ``delay`` seconds, so quick cached
runs stay silent. Counts computed and cached nodes; the postfix tells how many
were served from the cache and how many failed.

Examples
--------
>>> from pylearn_lab.vm.events import Event
>>> bar = ProgressBar(delay=3600)
>>> bar(Event("queued", "k", "f")); bar(Event("done", "k", "f"))
>>> bar.finished
1
"""

from __future__ import annotations

from typing import Any

from ..errors import Status
from .events import Event

_ENDED = (Status.DONE, Status.FAILED, Status.SKIPPED)

__all__ = ["ProgressBar"]


class ProgressBar:
    """Run callback drawing a tqdm bar over the nodes to compute."""

    def __init__(self, delay: float = 1.0) -> None:
        self.delay = delay
        self.total = 0
        self.finished = 0
        self.cached = 0
        self.failed = 0
        self._bar: Any = None

    def _ensure(self) -> Any:
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, delay=self.delay, unit="node", desc="pylearn run",
                             leave=True)
        return self._bar

    def __call__(self, event: Event) -> None:
        if event.kind == Status.QUEUED:
            self.total += 1
            if self._bar is not None:
                self._bar.total = self.total
        elif event.kind == Status.CACHED:
            self.cached += 1
        elif event.kind in _ENDED:
            self.finished += 1
            if event.kind != Status.DONE:
                self.failed += 1
            if self.delay < 3600:
                bar = self._ensure()
                bar.set_postfix(cached=self.cached, failed=self.failed, refresh=False)
                bar.update(1)
        elif event.kind == Status.FINISHED and self._bar is not None:
            self._bar.close()
