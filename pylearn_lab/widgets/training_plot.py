"""``TrainingPlot``: live curves of a training node, with pause, resume and stop buttons.

Create it *before* running the node: it opens the node's progress channel
(:func:`pylearn_lab.training.watch`) and a background thread polls it, so the
curves move while the training runs -- in this kernel, in a thread
(``pylearn_lab.call``), in a process pool or on an ipyparallel engine that sees
the same channel directory. The buttons write remote commands the training
reads between steps. The widget only displays and writes commands: it never
runs, hashes or caches anything.

Examples
--------
>>> import os, tempfile
>>> os.environ["PYLEARN_TRAINING_DIR"] = tempfile.mkdtemp()
>>> from pylearn_lab.components import load_iris, logistic_regression
>>> e = logistic_regression(load_iris(), epochs=8)
>>> plot = TrainingPlot(e, interval=None)   # no thread: refresh() by hand
>>> _ = e.compute(cache=False)
>>> plot.refresh(); plot.canvas.status, plot.canvas.step, sorted(plot.canvas.curves)
('done', 8, ['accuracy', 'loss'])
"""

from __future__ import annotations

import logging
import math
import pathlib
import threading
from typing import Any

import anywidget
import ipywidgets as W
import traitlets

from ..training.monitor import Monitor

__all__ = ["TrainingCanvas", "TrainingPlot"]

_STATIC = pathlib.Path(__file__).parent / "static"
_ENDED = ("done", "stopped")
_LOG = logging.getLogger(__name__)


class TrainingCanvas(anywidget.AnyWidget):
    """The SVG curves: ``curves`` is ``{metric: [[step, value], ...]}``."""

    _esm = _STATIC / "training_plot.js"
    _css = _STATIC / "training_plot.css"

    curves = traitlets.Dict().tag(sync=True)
    status = traitlets.Unicode("waiting").tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)
    steps = traitlets.Int(0).tag(sync=True)


class TrainingPlot(W.VBox):
    """Live plot and remote control of one training node.

    Parameters
    ----------
    target : Expr
        The training node (e.g. ``mlp(split, epochs=500)``), not yet running.
    interval : float or None
        Seconds between polls of the progress channel; None polls only on
        :meth:`refresh` (tests, scripts).
    """

    def __init__(self, target: Any, interval: float | None = 0.25) -> None:
        self.monitor = Monitor(target)
        self.canvas = TrainingCanvas()
        self.pause_button = W.Button(description="Pause", icon="pause")
        self.resume_button = W.Button(description="Resume", icon="play")
        self.stop_button = W.Button(description="Stop", icon="stop", button_style="danger")
        self.pause_button.on_click(lambda _b: self.monitor.pause())
        self.resume_button.on_click(lambda _b: self.monitor.resume())
        self.stop_button.on_click(lambda _b: self.monitor.stop())
        for b in (self.pause_button, self.resume_button, self.stop_button):
            b.add_class(f"pylearn-training-{b.description.lower()}")
        super().__init__([W.HBox([self.pause_button, self.resume_button, self.stop_button]),
                          self.canvas])
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        if interval is not None:
            self._thread = threading.Thread(target=self._poll_loop, args=(interval,),
                                            name="pylearn-training-plot", daemon=True)
            self._thread.start()

    def refresh(self) -> None:
        """Read new progress and update the plot (the polling thread calls this)."""
        if not self.monitor.poll() and self.canvas.curves:
            return
        m = self.monitor
        # NaN/inf are not JSON: a diverged loss is sent as null (a gap in the line)
        self.canvas.curves = {k: [[s, v if math.isfinite(v) else None] for s, v in zip(*pts)]
                              for k, pts in m.curves().items()}
        last = m.events[-1] if m.events else {}
        self.canvas.steps = int(last.get("steps", 0))
        self.canvas.step = m.step
        self.canvas.status = m.status
        ended = m.status in _ENDED
        for b in (self.pause_button, self.resume_button, self.stop_button):
            b.disabled = ended

    def _poll_loop(self, interval: float) -> None:
        while not self._closed.wait(interval):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 -- a display must never kill its thread
                _LOG.debug("training plot refresh failed", exc_info=True)
                continue
            if self.monitor.status in _ENDED:
                break

    def close(self) -> None:
        """Stop polling and close the widgets."""
        self._closed.set()
        self.canvas.close()
        super().close()
