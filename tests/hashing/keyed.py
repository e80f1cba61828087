"""Helpers: run calls through a real Cache and count what actually computed.

The counter holds a lock, so a component reading it as a global gets a stable
identity part ("unhashable:<type>") instead of a hash of a changing count.
"""

from __future__ import annotations

import threading
from typing import Any

import pylearn_lab as pl


class Tally:
    """Counts computations; never part of a key (its lock makes it unhashable)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.n = 0

    def tick(self) -> None:
        with self._lock:
            self.n += 1


TALLY = Tally()


def through_cache(cache: pl.Cache, expr: Any) -> tuple[Any, int]:
    """``(result, how many computations it took)`` for one run through ``cache``."""
    before = TALLY.n
    out = pl.run(expr, cache=cache)
    return out, TALLY.n - before


def same_as_fresh(value: Any, fresh: Any) -> bool:
    import numpy as np

    if isinstance(fresh, np.ndarray):
        return isinstance(value, np.ndarray) and np.array_equal(value, fresh)
    return bool(value == fresh) and type(value) is type(fresh)


def assert_kept_apart(cache: pl.Cache, build: Any, fresh: Any, a: Any, b: Any) -> None:
    """``build(a)`` then ``build(b)`` through one cache: b computes, and equals a fresh call."""
    ra, na = through_cache(cache, build(a))
    rb, nb = through_cache(cache, build(b))
    assert same_as_fresh(ra, fresh(a)) and na == 1
    assert nb == 1, "the second call was served from the first one's entry"
    assert same_as_fresh(rb, fresh(b))
    again, n = through_cache(cache, build(b))
    assert n == 0 and same_as_fresh(again, fresh(b)), "an equal call must hit"
