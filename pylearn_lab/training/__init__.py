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
from .checkpoint import Checkpoints, base_key
from .curves import at_step, curves, history_of, marginals, plot_curves, plot_marginals
from .monitor import Monitor, watch
from .loop import DEFAULT_CHECKPOINT, Loop, Trainer, TrainResult
from .plugins import Plugin, early_stopping, log_metric, plugin
from .schedules import TIMELINES, Schedule, after, always, at, each, every, never

__all__ = [
    "TIMELINES", "Schedule", "after", "always", "at", "each", "every", "never",
    "Plugin", "plugin", "early_stopping", "log_metric",
    "Loop", "Trainer", "TrainResult", "DEFAULT_CHECKPOINT",
    "Checkpoints", "base_key", "Channel", "channel_root", "Monitor", "watch",
    "curves", "history_of", "at_step", "marginals", "plot_curves", "plot_marginals",
]
