"""Iterative training: explicit loop state, plugins on schedules, resumable checkpoints."""

from .schedules import TIMELINES, Schedule, after, always, at, each, every, never

__all__ = ["TIMELINES", "Schedule", "after", "always", "at", "each", "every", "never"]
