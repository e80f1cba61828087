"""``Trainer``: a training loop whose state at step t is explicit, with plugins.

A training is three plain functions and a length::

    state = init(rng)                       # the parameters (and anything else that evolves)
    metrics = step(state, t, rng)           # step t = 1..steps: update state in place
    result = Trainer(init, step, steps, ...).run()   # TrainResult: state, history, ...

Because the loop owns the state and the random generator, it can store both
between steps (:mod:`~pylearn_lab.training.checkpoint`) and start again from
them: run inside a graph node with ``length="epochs"``, a 200-epoch call
resumes from the 100-epoch call's final checkpoint, or from the last one a
killed run left, and returns bitwise what an uninterrupted run returns.

The contract that makes this sound: **step t must not depend on the total
length** (no learning-rate schedule decaying to ``epochs``; put such a horizon
in another argument). ``steps`` only says where to stop.

Examples
--------
>>> def init(rng):
...     return {"w": 0.0}
>>> def step(state, t, rng):
...     state["w"] += 0.5 * (3.0 - state["w"])
...     return {"loss": (3.0 - state["w"]) ** 2}
>>> r = Trainer(init, step, steps=4).run()
>>> r.state["w"], r.steps_done, r.history["loss"][-1]
(2.8125, 4, 0.03515625)
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import TrainingError, TrainingStopped
from ..hashing.functions import qualified_name
from .channel import Channel
from .checkpoint import Checkpoints, base_key
from .plugins import Plugin, plugin
from .schedules import Schedule, every, never

__all__ = ["DEFAULT_CHECKPOINT", "Loop", "TrainResult", "Trainer"]

#: checkpoint every 30 s of training, and always at the end (what P14 measures)
DEFAULT_CHECKPOINT: Schedule = every(seconds=30)
_PUBLISH = every(seconds=0.2)  # progress lines to a watcher: often enough for a live plot
_PAUSE_POLL = 0.05


@dataclass
class Loop:
    """What plugins see and may change: the loop's state at step ``t``.

    Attributes
    ----------
    t : int
        Steps done.
    steps : int
        Steps asked for.
    examples : int
        Training examples seen (``t * examples_per_step``).
    seconds : float
        Seconds spent training (across resumed segments, pauses excluded).
    state : object
        The user state (``init``'s return value).
    rng : numpy.random.Generator
        The loop's generator (part of every checkpoint).
    history : dict
        ``metric -> [value per step]`` from ``step``'s return values.
    logged : dict
        ``name -> [[step, value], ...]`` from :meth:`log` (plugins).
    """

    t: int
    steps: int
    examples: int
    seconds: float
    state: Any
    rng: np.random.Generator
    history: dict[str, list[float]] = field(default_factory=dict)
    logged: dict[str, list[list[float]]] = field(default_factory=dict)
    stop_reason: str | None = None

    @property
    def metrics(self) -> dict[str, float]:
        """The last step's metrics."""
        return {k: v[-1] for k, v in self.history.items() if v}

    def time(self, timeline: str) -> float:
        """Where the loop is on ``timeline``."""
        return {"iterations": self.t, "examples": self.examples, "seconds": self.seconds}[timeline]

    def log(self, name: str, value: float) -> None:
        """Append ``value`` at the current step to the curve ``name``."""
        self.logged.setdefault(name, []).append([self.t, float(value)])

    def stop(self, reason: str = "stopped by a plugin") -> None:
        """End the loop after this step's plugins (part of the result: keep it deterministic)."""
        self.stop_reason = reason


@dataclass
class TrainResult:
    """What :meth:`Trainer.run` returns."""

    state: Any
    history: dict[str, list[float]]
    logged: dict[str, list[list[float]]]
    steps_done: int
    stop_reason: str | None
    resumed_from: int
    seconds: float


class Trainer:
    """A training loop: ``init``, ``step``, a length, plugins and checkpoints.

    Parameters
    ----------
    init : callable
        ``init(rng) -> state``.
    step : callable
        ``step(state, t, rng) -> {metric: float} | None``, updating ``state`` in place.
    steps : int
        How many steps to run (``t = 1 .. steps``).
    seed : int
        Seed of the loop's ``numpy.random.default_rng``.
    length : str, optional
        Inside a graph node: the name of the node's argument that ``steps`` comes
        from (``"epochs"``). Checkpoints are then keyed by the node's other
        arguments and stored in the run's cache. Without it (or outside a
        node) nothing is checkpointed unless ``key`` and ``cache`` are given.
    plugins : sequence of Plugin
        Run between steps (see :mod:`~pylearn_lab.training.plugins` for the order).
    checkpoint : Schedule or None
        When to store a checkpoint (besides the last step); None: only at the end.
    examples_per_step : int, optional
        Advances the ``examples`` timeline.
    key, cache : str and Cache, optional
        An explicit checkpoint base key and cache (plain scripts).
    name : str
        Tells apart several loops inside one node.
    """

    def __init__(self, init: Callable[[np.random.Generator], Any],
                 step: Callable[[Any, int, np.random.Generator], Mapping[str, float] | None],
                 steps: int, *, seed: int | None = 0, length: str | None = None,
                 plugins: Sequence[Plugin] = (), checkpoint: Schedule | None = DEFAULT_CHECKPOINT,
                 examples_per_step: int = 0, key: str | None = None, cache: Any = None,
                 name: str = "") -> None:
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise TrainingError(f"Trainer(steps=): expected an int >= 0, received {steps!r}.")
        bad = [p for p in plugins if not isinstance(p, Plugin)]
        if bad:
            raise TrainingError(f"Trainer(plugins=): expected Plugin objects (plugin(schedule, fn), "
                                f"early_stopping(...)), received {bad[0]!r:.60}.")
        self.init, self.step, self.steps, self.seed = init, step, int(steps), seed
        self.length, self.examples_per_step, self.name = length, int(examples_per_step), name
        self.key, self.cache = key, cache
        ckpt = checkpoint if checkpoint is not None else never()
        self._checkpoint_schedule = ckpt
        self.plugins = sorted(plugins, key=lambda p: p.order)  # stable: given order breaks ties

    # -- where checkpoints and progress go ----------------------------------------------
    def _context(self) -> tuple[Checkpoints | None, Channel | None]:
        from ..vm.task import running_task  # lazily: training sits below the VM layer

        running = running_task()
        book: Checkpoints | None = None
        if self.key is not None and self.cache is not None and self.cache is not False:
            book = Checkpoints(self.cache, self.key, self.name)
        elif self.length is not None and running is not None and running[1] is not None \
                and self.cache is not False:
            call, cache = running
            _check_length(call, self.length, self.steps)
            book = Checkpoints(cache, base_key(call.func, call.args, call.kwargs, self.length,
                                               self.name, _loop_index(running, self.name)),
                               call.label, qualified_name(call.func))
        channel = Channel.open_if_watched(running[0].key) if running is not None else None
        if channel is not None and channel.command() == "stop":
            channel.acknowledge()  # a stop sent to an earlier run must not stop this one
        return book, channel

    def run(self) -> TrainResult:
        """Run (or resume) the loop to ``steps``; see the class docstring."""
        book, channel = self._context()
        t0, payload = book.latest(self.steps) if book is not None else (0, None)
        if payload is not None:
            # cached arrays come back read-only (memory-mapped): the loop owns private copies
            payload = copy.deepcopy(payload)
            loop = Loop(t0, self.steps, payload["examples"], payload["seconds"], payload["state"],
                        payload["rng"], payload["history"], payload["logged"], payload["stopped"])
        else:
            rng = np.random.default_rng(self.seed)
            loop = Loop(0, self.steps, 0, 0.0, self.init(rng), rng)
        resumed_from = loop.t
        saved_at = loop.t if payload is not None else -1
        ckpt = plugin(self._checkpoint_schedule, lambda lp: None, order=100, name="checkpoint")
        publish = plugin(_PUBLISH, lambda lp: None, order=80, name="publish")
        active = [*self.plugins, publish, ckpt]
        marks = {id(p): loop.time(p.timeline) for p in active}
        last_fired: dict[int, int] = {}
        started = time.perf_counter() - loop.seconds
        if channel is not None:
            channel.publish(_event(loop, "resumed" if loop.t else "started"))

        def fire(p: Plugin) -> None:
            last_fired[id(p)] = loop.t
            if p is ckpt:
                if book is not None and saved_at != loop.t and loop.t > 0:
                    book.save(loop.t, _payload(loop), loop.metrics)
            elif p is publish:
                if channel is not None:
                    channel.publish(_event(loop, "running"))
            else:
                p.function(loop)

        while loop.t < loop.steps and loop.stop_reason is None:
            if channel is not None:
                started = self._obey(channel, loop, book, started)
            t = loop.t + 1
            metrics = self.step(loop.state, t, loop.rng)
            loop.t, loop.examples = t, loop.examples + self.examples_per_step
            for k, v in (metrics or {}).items():
                loop.history.setdefault(k, []).append(float(v))
            loop.seconds = time.perf_counter() - started
            for p in active:
                now = loop.time(p.timeline)
                if p.schedule.fires(marks[id(p)], now):
                    fire(p)
                marks[id(p)] = now
                if p is ckpt and last_fired.get(id(p)) == loop.t:
                    saved_at = loop.t
        for p in active:
            if (p.final or p is ckpt or p is publish) and last_fired.get(id(p)) != loop.t:
                fire(p)
        if channel is not None:
            channel.publish(_event(loop, "done"))
        return TrainResult(loop.state, loop.history, loop.logged, loop.t, loop.stop_reason,
                           resumed_from, loop.seconds)

    def _obey(self, channel: Channel, loop: Loop, book: Checkpoints | None, started: float) -> float:
        """Apply remote commands before a step; returns the (pause-shifted) start time."""
        cmd = channel.command()
        if cmd == "pause":
            channel.publish(_event(loop, "paused"))
            paused = time.perf_counter()
            while (cmd := channel.command()) == "pause":
                time.sleep(_PAUSE_POLL)
            started += time.perf_counter() - paused  # pauses are not training time
            channel.publish(_event(loop, "running"))
        if cmd == "stop":
            if book is not None and loop.t:
                book.save(loop.t, _payload(loop), loop.metrics)
            channel.publish(_event(loop, "stopped"))
            raise TrainingStopped(
                f"training stopped from the notebook at step {loop.t} of {loop.steps}"
                + (f"; its state is checkpointed, running it again resumes from step {loop.t}"
                   if book is not None and loop.t else "; no cache, so nothing was kept")
            )
        return started


def _payload(loop: Loop) -> dict[str, Any]:
    return {"t": loop.t, "examples": loop.examples, "seconds": loop.seconds, "state": loop.state,
            "rng": loop.rng, "history": loop.history, "logged": loop.logged,
            "stopped": loop.stop_reason}


def _event(loop: Loop, status: str) -> dict[str, Any]:
    return {"t": loop.t, "steps": loop.steps, "examples": loop.examples,
            "seconds": round(loop.seconds, 4), "status": status, "metrics": loop.metrics}


def _check_length(call: Any, length: str, steps: int) -> None:
    import inspect

    try:
        bound = inspect.signature(call.func).bind(*call.args, **call.kwargs)
        bound.apply_defaults()
    except (TypeError, ValueError):
        return  # base_key reports it
    if length in bound.arguments and bound.arguments[length] != steps:
        raise TrainingError(
            f"Trainer(steps={steps}, length={length!r}) runs inside {call.label}() called with "
            f"{length}={bound.arguments[length]!r}: steps must be that argument, or checkpoints "
            "of different lengths would be confused."
        )


_LOOPS: dict[int, tuple[Any, dict[str, int]]] = {}
_LOOPS_LOCK = threading.Lock()  # the threads backend runs several tasks at once


def _loop_index(running: Any, name: str) -> int:
    """How many loops named ``name`` ran before in this task (0 for the first)."""
    with _LOOPS_LOCK:
        entry = _LOOPS.get(id(running))
        if entry is None or entry[0] is not running:
            if len(_LOOPS) > 256:  # tasks are short-lived: forget the oldest
                _LOOPS.pop(next(iter(_LOOPS)))
            entry = _LOOPS[id(running)] = (running, {})
        counts = entry[1]
        counts[name] = counts.get(name, 0) + 1
        return counts[name] - 1
