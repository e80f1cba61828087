"""Iterative training: explicit loop state, plugins on schedules, resumable checkpoints.

A loop is ``init(rng) -> state`` and ``step(state, t, rng) -> metrics`` run by a
:class:`Trainer`; plugins are (schedule, timeline, function) triples run
between steps; inside a graph node, checkpoints are cache entries keyed by the
node's arguments without its length, so a longer training resumes a shorter one
and a killed one resumes from its last checkpoint, bitwise equal to a run
from scratch. See ``docs/training.md``.

Examples
--------
>>> from pylearn_lab.training import Trainer, each, plugin
>>> seen = []
>>> r = Trainer(lambda rng: {"n": 0}, lambda s, t, rng: s.update(n=t),
...             steps=25, plugins=[plugin(each(10), lambda loop: seen.append(loop.t))]).run()
>>> seen, r.state
([10, 20], {'n': 25})
"""

from .channel import Channel, channel_root
from .checkpoint import Checkpoints, base_key, forget
from .curves import at_step, curves, history_of, logged_of, marginals, plot_curves, plot_marginals
from .loop import DEFAULT_CHECKPOINT, Loop, Trainer, TrainResult
from .monitor import Monitor, watch
from .plugins import Plugin, early_stopping, log_metric, plugin
from .schedules import TIMELINES, Schedule, after, always, at, each, every, never

__all__ = [
    "DEFAULT_CHECKPOINT",
    "TIMELINES",
    "Channel",
    "Checkpoints",
    "Loop",
    "Monitor",
    "Plugin",
    "Schedule",
    "TrainResult",
    "Trainer",
    "after",
    "always",
    "at",
    "at_step",
    "base_key",
    "channel_root",
    "curves",
    "each",
    "early_stopping",
    "every",
    "history_of",
    "log_metric",
    "marginals",
    "never",
    "plot_curves",
    "plot_marginals",
    "plugin",
    "watch",
]
