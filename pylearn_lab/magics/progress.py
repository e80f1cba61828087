"""Live progress of ``%pylearn run``: a run callback that draws and counts.

In a notebook kernel it draws an ipywidgets ``IntProgress`` with an ``HTML``
line under it; in a terminal it rewrites one text line. Either way it counts
node outcomes (cached / computed / failed / skipped) and remembers which keys
were served from the cache, so the summary can say how much time they saved.

Examples
--------
>>> from pylearn_lab.vm.events import Event
>>> import io
>>> p = RunProgress(mode="text", stream=io.StringIO())
>>> for kind, key in [("cached", "a"), ("queued", "b"), ("done", "b")]:
...     p(Event(kind, key, "f", info={"duration": 0.5}))
>>> p.counts["cached"], p.counts["done"], p.cached_keys
(1, 1, ['a'])
>>> p.describe()
'1 computed, 1 cached, 0 failed'
"""

from __future__ import annotations

import html
import sys
import threading
from typing import Any, TextIO

from ..vm.events import Event

__all__ = ["RunProgress"]

_BAR = 24


class RunProgress:
    """Run callback: live display plus outcome counts.

    Parameters
    ----------
    mode : {"widget", "text", "none"}
        How to draw (the magics pick "widget" inside a notebook kernel).
    stream : file, optional
        Where text mode writes (default: ``sys.stdout`` at the time of each write).
    title : str
        Shown before the counts, e.g. the expression's name.
    """

    def __init__(self, mode: str = "text", stream: TextIO | None = None, title: str = "run") -> None:
        if mode not in ("widget", "text", "none"):
            raise ValueError(f"mode expected 'widget', 'text' or 'none', received {mode!r}")
        self.mode = mode
        self.stream = stream
        self.title = title
        self.counts = {"total": 0, "queued": 0, "cached": 0, "done": 0, "failed": 0, "skipped": 0}
        self.cached_keys: list[str] = []
        self.computed_time = 0.0
        self.elapsed = 0.0
        self.bar: Any = None
        self.label: Any = None
        self.box: Any = None
        self._lock = threading.Lock()
        self._drawn = False

    # -- the callback ---------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        with self._lock:
            kind = event.kind
            if kind == "finished":
                self.elapsed = float(event.info.get("elapsed") or 0.0)
                self._draw(final=True)
                return
            if kind == "cached":
                self.counts["cached"] += 1
                self.counts["total"] += 1
                self.cached_keys.append(event.key)
            elif kind == "queued":
                self.counts["queued"] += 1
                self.counts["total"] += 1
                return  # nothing visible changes until something finishes
            elif kind in ("done", "failed", "skipped"):
                self.counts[kind] += 1
                if kind == "done":
                    self.computed_time += float(event.info.get("duration") or 0.0)
            else:
                return
            self._draw()

    # -- text -----------------------------------------------------------------------------
    @property
    def finished(self) -> int:
        """Nodes with a final outcome so far."""
        c = self.counts
        return c["cached"] + c["done"] + c["failed"] + c["skipped"]

    def describe(self) -> str:
        """``'3 computed, 2 cached, 0 failed'`` (plus skipped when any)."""
        c = self.counts
        text = f"{c['done']} computed, {c['cached']} cached, {c['failed']} failed"
        return text + (f", {c['skipped']} skipped" if c["skipped"] else "")

    # -- drawing --------------------------------------------------------------------------
    def _draw(self, final: bool = False) -> None:
        if self.mode == "widget":
            self._draw_widget(final)
        elif self.mode == "text":
            self._draw_text(final)

    def _draw_text(self, final: bool) -> None:
        total = max(self.counts["total"], 1)
        filled = round(_BAR * self.finished / total)
        line = (f"\r{self.title} [{'#' * filled}{'.' * (_BAR - filled)}] "
                f"{self.finished}/{self.counts['total']} nodes: {self.describe()}")
        out = self.stream or sys.stdout
        out.write(line + ("\n" if final else ""))
        out.flush()

    def _draw_widget(self, final: bool) -> None:
        import ipywidgets as W

        if self.bar is None:
            from IPython.display import display

            self.bar = W.IntProgress(value=0, min=0, max=1, description=self.title[:20],
                                     bar_style="info")
            self.label = W.HTML()
            self.box = W.VBox([self.bar, self.label])
            display(self.box)
        self.bar.max = max(self.counts["total"], 1)
        self.bar.value = self.finished
        if final:
            self.bar.bar_style = "danger" if self.counts["failed"] else "success"
        self.label.value = f"<code>{html.escape(self.describe())}</code>"
