"""Schedules: predicates on time that say when a training plugin fires.

A schedule is a set of instants on a timeline (iterations, examples seen, or
wall-clock seconds). It answers two questions:

- the **point form** ``s(t)``: does it fire at ``t``?
- the **range form** ``s.fires(t1, t2)``: does it fire somewhere in ``(t1, t2]``?
  Timelines jump (examples advance by a batch, seconds by however long a step
  took), so a plugin asks about the interval since it was last asked, and
  ``each(100)`` on examples fires once whenever a multiple of 100 was crossed.

Schedules combine with ``&`` (both), ``|`` (either) and ``~`` (not), and the
range form of a combination is exact: ``each(10) & ~at(20)`` fires in
``(15, 25]`` only if some instant in it is a multiple of 10 other than 20.

Examples
--------
>>> s = each(10) & ~at(20)
>>> s(30), s(20), s(25)
(True, False, False)
>>> s.fires(15, 25), s.fires(25, 30), s.fires(11, 19)
(False, True, False)
>>> (after(5) & each(2))(6), every(seconds=2.5).timeline
(True, 'seconds')
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..errors import TrainingError

__all__ = ["TIMELINES", "Schedule", "after", "always", "at", "each", "every", "never"]

#: the timelines a loop keeps: steps done, training examples seen, seconds spent training
TIMELINES = ("iterations", "examples", "seconds")
_MAX_POINTS = 100_000  # enumeration guard of the exact range form (see Schedule.fires)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TrainingError(f"{what}: expected a finite number, received {value!r}.")
    return value


class Schedule:
    """Base of all schedules; combine them with ``&``, ``|`` and ``~``.

    Attributes
    ----------
    timeline : str or None
        The timeline this schedule is meant for (``every(seconds=...)`` sets
        ``"seconds"``); None lets the plugin decide (default ``"iterations"``).
    """

    timeline: str | None = None

    # -- the two forms ----------------------------------------------------------------
    def __call__(self, t: float) -> bool:
        """Point form: does the schedule fire at instant ``t``?"""
        raise NotImplementedError

    def points(self, t1: float, t2: float) -> Iterable[float]:
        """The instants in ``(t1, t2]`` where membership may change (multiples, thresholds)."""
        raise NotImplementedError

    def fires(self, t1: float, t2: float, discrete: bool | None = None) -> bool:
        """Range form: does the schedule fire at some instant of ``(t1, t2]``?

        ``discrete`` says whether the timeline holds only whole numbers
        (iterations, examples); by default it does when both ends are ints.
        Between two consecutive special instants every primitive keeps its
        value, so checking each special instant and one instant of each gap
        between them is exact.
        """
        if t2 <= t1:
            return False
        if discrete is None:
            discrete = isinstance(t1, int) and isinstance(t2, int)
        raw = list(self.points(t1, t2)) + [t2]
        if discrete:  # only whole instants exist: a threshold at 2.5 matters at 2 and 3
            raw = [q for p in raw for q in (math.floor(p), math.ceil(p))]
        special = sorted({p for p in raw if t1 < p <= t2})
        prev = t1
        for p in special:
            if discrete:
                inner = math.floor(prev) + 1
                gap: float | None = inner if inner < p else None
            else:
                gap = (prev + p) / 2
            if (gap is not None and self(gap)) or self(p):
                return True
            prev = p
        return False

    # -- algebra ----------------------------------------------------------------------
    def __and__(self, other: Schedule) -> Schedule:
        return _And(self, _check(other, "&"))

    def __or__(self, other: Schedule) -> Schedule:
        return _Or(self, _check(other, "|"))

    def __invert__(self) -> Schedule:
        return _Not(self)

    def __rand__(self, other: object) -> Schedule:
        return _And(_check(other, "&"), self)

    def __ror__(self, other: object) -> Schedule:
        return _Or(_check(other, "|"), self)


def _check(other: object, op: str) -> Schedule:
    if not isinstance(other, Schedule):
        raise TrainingError(
            f"a schedule combines with another schedule by {op}, received "
            f"{type(other).__name__} {other!r:.40}. Use each(n), at(t), after(t) or every(...)."
        )
    return other


def _timeline_of(a: Schedule, b: Schedule) -> str | None:
    if a.timeline and b.timeline and a.timeline != b.timeline:
        raise TrainingError(
            f"cannot combine a schedule on {a.timeline!r} with one on {b.timeline!r}: a plugin "
            "watches one timeline. Make two plugins instead."
        )
    return a.timeline or b.timeline


class _Each(Schedule):
    def __init__(self, n: float, timeline: str | None = None) -> None:
        n = _number(n, "each(n)")
        if n <= 0:
            raise TrainingError(f"each(n): expected n > 0, received {n!r}.")
        self.n, self.timeline = n, timeline

    def __call__(self, t: float) -> bool:
        if isinstance(t, int) and isinstance(self.n, int):
            return t % self.n == 0
        r = t / self.n
        return abs(r - round(r)) <= 1e-9 * max(1.0, abs(r))

    def points(self, t1: float, t2: float) -> Iterable[float]:
        lo, hi = math.floor(t1 / self.n) + 1, math.floor(t2 / self.n)
        if hi - lo > _MAX_POINTS:
            raise TrainingError(f"each({self.n}) over ({t1}, {t2}] has too many instants to "
                                "combine exactly; ask about shorter ranges.")
        return [k * self.n for k in range(lo, hi + 1)]

    def fires(self, t1: float, t2: float, discrete: bool | None = None) -> bool:
        return t2 > t1 and (math.floor(t2 / self.n) > math.floor(t1 / self.n) or self(t2))

    def __repr__(self) -> str:
        return f"every({self.timeline}={self.n!r})" if self.timeline else f"each({self.n!r})"


class _At(Schedule):
    def __init__(self, times: tuple[float, ...]) -> None:
        if not times:
            raise TrainingError("at(t, ...): expected at least one instant, received none.")
        self.times = frozenset(_number(t, "at(t)") for t in times)

    def __call__(self, t: float) -> bool:
        return t in self.times

    def points(self, t1: float, t2: float) -> Iterable[float]:
        return self.times

    def fires(self, t1: float, t2: float, discrete: bool | None = None) -> bool:
        return any(t1 < t <= t2 for t in self.times)

    def __repr__(self) -> str:
        return f"at({', '.join(map(repr, sorted(self.times)))})"


class _After(Schedule):
    def __init__(self, t: float) -> None:
        self.t = _number(t, "after(t)")

    def __call__(self, t: float) -> bool:
        return t > self.t

    def points(self, t1: float, t2: float) -> Iterable[float]:
        return [self.t]

    def fires(self, t1: float, t2: float, discrete: bool | None = None) -> bool:
        if t2 <= t1 or t2 <= self.t:
            return False
        if discrete is None:
            discrete = isinstance(t1, int) and isinstance(t2, int)
        return not discrete or math.floor(max(t1, self.t)) + 1 <= t2

    def __repr__(self) -> str:
        return f"after({self.t!r})"


class _Const(Schedule):
    def __init__(self, value: bool) -> None:
        self.value = value

    def __call__(self, t: float) -> bool:
        return self.value

    def points(self, t1: float, t2: float) -> Iterable[float]:
        return ()

    def __repr__(self) -> str:
        return "always()" if self.value else "never()"


class _And(Schedule):
    def __init__(self, a: Schedule, b: Schedule) -> None:
        self.a, self.b, self.timeline = a, b, _timeline_of(a, b)

    def __call__(self, t: float) -> bool:
        return self.a(t) and self.b(t)

    def points(self, t1: float, t2: float) -> Iterable[float]:
        return [*self.a.points(t1, t2), *self.b.points(t1, t2)]

    def __repr__(self) -> str:
        return f"({self.a!r} & {self.b!r})"


class _Or(_And):
    def __call__(self, t: float) -> bool:
        return self.a(t) or self.b(t)

    def fires(self, t1: float, t2: float, discrete: bool | None = None) -> bool:
        # a union meets a range when either part does: no enumeration needed
        return self.a.fires(t1, t2, discrete) or self.b.fires(t1, t2, discrete)

    def __repr__(self) -> str:
        return f"({self.a!r} | {self.b!r})"


class _Not(Schedule):
    def __init__(self, a: Schedule) -> None:
        self.a, self.timeline = a, a.timeline

    def __call__(self, t: float) -> bool:
        return not self.a(t)

    def points(self, t1: float, t2: float) -> Iterable[float]:
        return self.a.points(t1, t2)

    def __repr__(self) -> str:
        return f"~{self.a!r}"


def each(n: float) -> Schedule:
    """Fire at every multiple of ``n`` on the plugin's timeline: ``each(10)(30)`` is True."""
    return _Each(n)


def at(*times: float) -> Schedule:
    """Fire exactly at these instants: ``at(1, 50)``."""
    return _At(times)


def after(t: float) -> Schedule:
    """Fire at every instant strictly after ``t``: ``after(5)(5)`` is False, ``(6)`` True."""
    return _After(t)


def always() -> Schedule:
    """Fire at every instant (every step, when asked once per step)."""
    return _Const(True)


def never() -> Schedule:
    """Never fire (switches a plugin off)."""
    return _Const(False)


def every(*, iterations: int | None = None, examples: int | None = None,
          seconds: float | None = None) -> Schedule:
    """``each(n)`` bound to one timeline: ``every(seconds=30)``, ``every(examples=10_000)``.

    Examples
    --------
    >>> every(seconds=30)
    every(seconds=30)
    """
    given = {k: v for k, v in (("iterations", iterations), ("examples", examples),
                               ("seconds", seconds)) if v is not None}
    if len(given) != 1:
        raise TrainingError(
            f"every() expected exactly one of iterations=, examples=, seconds=, received "
            f"{given or 'none'}. Example: every(seconds=30)."
        )
    (timeline, n), = given.items()
    return _Each(n, timeline)
