"""Plugins: (schedule, timeline, function) triples a training loop runs between steps.

After every step the loop asks each plugin's schedule whether it fires in the
stretch of its timeline covered since it was last asked (the range form, so a
jump of 32 examples still crosses ``each(100)`` exactly when it should), and
calls the function of those that do with the :class:`~pylearn_lab.training.loop.Loop`.

The order is fixed and tested:

1. before each step, remote commands (pause, resume, stop) are read;
2. the step runs and its metrics are appended to the history;
3. plugins run by ascending ``order``, then in the order they were given --
   user plugins and :func:`log_metric` (0), :func:`early_stopping` (50), the
   progress publisher (80), the checkpoint (100, always last, so it stores what
   the others logged or decided);
4. when the loop ends, plugins marked ``final`` run once more if they did not
   fire at the last step.

Examples
--------
>>> from pylearn_lab.training import each
>>> p = plugin(each(10), print, order=5)
>>> p.timeline, p.order
('iterations', 5)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import TrainingError
from .schedules import TIMELINES, Schedule, always

if TYPE_CHECKING:
    from .loop import Loop

__all__ = ["Plugin", "early_stopping", "log_metric", "plugin"]


@dataclass(frozen=True)
class Plugin:
    """One plugin: call ``function(loop)`` when ``schedule`` fires on ``timeline``.

    Attributes
    ----------
    schedule : Schedule
    function : callable
        ``function(loop) -> None``; it may read the loop, ``loop.log(...)`` or ``loop.stop()``.
    timeline : str
        ``"iterations"``, ``"examples"`` or ``"seconds"``.
    order : int
        Lower runs first (see the module docstring).
    final : bool
        Also run once when the loop ends.
    name : str
        Shown in errors.
    """

    schedule: Schedule
    function: Callable[[Loop], Any]
    timeline: str = "iterations"
    order: int = 0
    final: bool = False
    name: str = ""


def plugin(schedule: Schedule, function: Callable[[Loop], Any], timeline: str | None = None,
           *, order: int = 0, final: bool = False, name: str = "") -> Plugin:
    """Make a :class:`Plugin`, checking its parts; ``timeline`` defaults to the schedule's.

    Examples
    --------
    >>> from pylearn_lab.training import every
    >>> plugin(every(seconds=5), print).timeline
    'seconds'
    """
    if not isinstance(schedule, Schedule):
        raise TrainingError(f"plugin(): expected a Schedule first (each(10), every(seconds=5)), "
                            f"received {type(schedule).__name__} {schedule!r:.40}.")
    if not callable(function):
        raise TrainingError(f"plugin(): expected a function(loop), received {function!r:.60}.")
    line = timeline or schedule.timeline or "iterations"
    if line not in TIMELINES or (schedule.timeline and schedule.timeline != line):
        raise TrainingError(f"plugin(): expected a timeline among {TIMELINES} matching the "
                            f"schedule's ({schedule.timeline}), received {timeline!r}.")
    return Plugin(schedule, function, line, order, final,
                  name or getattr(function, "__name__", type(function).__name__))


def log_metric(name: str, fn: Callable[[Loop], float], schedule: Schedule | None = None,
               timeline: str | None = None) -> Plugin:
    """Log ``fn(loop)`` as the curve ``name`` (``loop.logged[name]``: ``[step, value]`` pairs).

    Use it for what costs too much for every step, e.g. a validation score each 10 steps.
    Keep it on iterations or examples when the value is part of the result:
    a wall-clock schedule logs at different steps on every run.
    """
    return plugin(schedule or always(), lambda loop: loop.log(name, float(fn(loop))),
                  timeline, order=0, name=f"log_metric({name!r})")


def early_stopping(metric: str = "loss", patience: int = 10, mode: Literal["min", "max"] = "min",
                   min_delta: float = 0.0) -> Plugin:
    """Stop when ``metric`` has not improved by ``min_delta`` for ``patience`` steps.

    The decision is recomputed from the history alone (no hidden plugin state),
    so a resumed training stops at exactly the step a fresh one would.

    Examples
    --------
    >>> early_stopping("accuracy", patience=3, mode="max").order
    50
    """
    if mode not in ("min", "max"):
        raise TrainingError(f"early_stopping(mode=): expected 'min' or 'max', received {mode!r}.")
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise TrainingError(f"early_stopping(patience=): expected an int >= 1, received {patience!r}.")
    sign = 1.0 if mode == "min" else -1.0

    def check(loop: Loop) -> None:
        curve = loop.history.get(metric)
        if curve is None:
            raise TrainingError(f"early_stopping({metric!r}): the step reports no such metric; "
                                f"it reports {sorted(loop.history)}.")
        best, best_t = float("inf"), 0
        for i, v in enumerate(curve):
            if sign * v < best - min_delta:
                best, best_t = sign * v, i
        if len(curve) - 1 - best_t >= patience:
            loop.stop(f"early stopping: {metric} did not improve for {patience} steps")

    return Plugin(always(), check, "iterations", 50, False, f"early_stopping({metric!r})")
