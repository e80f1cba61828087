"""``watch(expr)``: follow a training node's progress and steer it from the notebook.

The notebook side of the :mod:`~pylearn_lab.training.channel`: create a
:class:`Monitor` *before* running the node (the training looks for its channel
once, when it starts), then run the node any way you like -- in the kernel,
``call()``, a process pool, an ipyparallel engine -- and read ``curves()`` or
send ``pause()``, ``resume()``, ``stop()``. The live plot widget
(:class:`pylearn_lab.widgets.training_plot.TrainingPlot`) is a view on a Monitor.

A stop is not a result: the training checkpoints its state and the node fails
with :class:`~pylearn_lab.errors.TrainingStopped`, nothing is cached under its
key, and running it again resumes from the checkpoint.

Examples
--------
>>> import os, tempfile
>>> os.environ["PYLEARN_TRAINING_DIR"] = tempfile.mkdtemp()
>>> from pylearn_lab.components import load_iris, logistic_regression
>>> e = logistic_regression(load_iris(), epochs=5)
>>> m = watch(e)
>>> _ = e.compute(cache=False)
>>> _ = m.poll(); m.status, m.step, len(m.curves()["loss"][1]) >= 1
('done', 5, True)
"""

from __future__ import annotations

from typing import Any

from ..errors import TrainingError
from .channel import Channel

__all__ = ["Monitor", "watch"]


class Monitor:
    """Progress and remote control of one training node (see :func:`watch`).

    Attributes
    ----------
    key : str
        The node key.
    events : list of dict
        Every progress event read so far (``t``, ``steps``, ``examples``,
        ``seconds``, ``status``, ``metrics``).
    """

    def __init__(self, target: Any) -> None:
        key = getattr(target, "key", target)
        if not isinstance(key, str):
            raise TrainingError(f"watch() expected an Expr (a training node) or its key, "
                                f"received {type(target).__name__}.")
        self.key = key
        self.channel = Channel(key, create=True)
        self.channel.reset()  # a new watch: earlier runs' lines and commands are history
        self.events: list[dict[str, Any]] = []
        self._offset = 0

    def poll(self) -> list[dict[str, Any]]:
        """Read the events published since the last poll; returns the new ones."""
        new, self._offset = self.channel.read(self._offset)
        self.events.extend(new)
        return new

    @property
    def status(self) -> str:
        """``"waiting"`` (nothing yet), ``"started"``, ``"running"``, ``"paused"``, ``"stopped"``, ``"done"``."""
        return self.events[-1].get("status", "running") if self.events else "waiting"

    @property
    def step(self) -> int:
        """The last step reported."""
        return int(self.events[-1].get("t", 0)) if self.events else 0

    def curves(self) -> dict[str, tuple[list[int], list[float]]]:
        """``metric -> (steps, values)`` from the events read so far (one point per step)."""
        out: dict[str, tuple[list[int], list[float]]] = {}
        last: dict[str, int] = {}
        for ev in self.events:
            t = int(ev.get("t", 0))
            for name, value in (ev.get("metrics") or {}).items():
                if last.get(name) == t or not isinstance(value, (int, float)):
                    continue
                steps, values = out.setdefault(name, ([], []))
                steps.append(t)
                values.append(float(value))
                last[name] = t
        return out

    def pause(self) -> None:
        """Ask the training to wait before its next step."""
        self.channel.send("pause")

    def resume(self) -> None:
        """Let a paused training go on."""
        self.channel.send("resume")

    def stop(self) -> None:
        """Ask the training to checkpoint and stop before its next step."""
        self.channel.send("stop")

    def __repr__(self) -> str:
        return f"<Monitor {self.key[:12]} {self.status} at step {self.step}>"


def watch(target: Any) -> Monitor:
    """Start watching the training node ``target`` (an Expr); call it before running it."""
    return Monitor(target)
