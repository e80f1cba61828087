"""A worker's cache warnings are handed back per thread (``cache/warn.py`` ``captured``).

A dask worker runs several tasks at once in threads. ``_save_in_worker`` used
``warnings.catch_warnings``, which swaps process-wide state: when two saves
overlapped and the first ended first, it restored the process's original
``showwarning``, so the second save's warning went to the worker's stderr (lost to
the user), and the second's exit then re-installed the first's recording hook for
good. The interleaving is forced here with gates.
"""

from __future__ import annotations

import threading
import warnings

from pylearn_lab.cache.warn import warn_once
from pylearn_lab.vm.task import _save_in_worker


class GatedCache:
    """A cache whose save waits for the test, then fails with a warning."""

    def __init__(self) -> None:
        self.entered = {k: threading.Event() for k in "ab"}
        self.go = {k: threading.Event() for k in "ab"}

    def save(self, key, value, record) -> bool:
        self.entered[key].set()
        assert self.go[key].wait(10)
        warn_once(f"/c/{key}", "disk full", f"result {key} not cached: disk full")
        return False


def test_overlapping_saves_in_two_threads_each_hand_back_their_own_warning() -> None:
    cache, out = GatedCache(), {}
    show = warnings.showwarning
    filters = list(warnings.filters)

    def save(key: str) -> None:
        out[key] = _save_in_worker(cache, key, 1, {})

    ta = threading.Thread(target=save, args=("a",))
    ta.start()
    assert cache.entered["a"].wait(10)
    tb = threading.Thread(target=save, args=("b",))
    tb.start()
    assert cache.entered["b"].wait(10)
    cache.go["a"].set()  # the first to start ends first ...
    ta.join(10)
    cache.go["b"].set()  # ... then the second warns
    tb.join(10)
    assert out["a"] == (False, "result a not cached: disk full", "disk full")
    assert out["b"] == (False, "result b not cached: disk full", "disk full")
    assert warnings.showwarning is show and warnings.filters == filters


def test_a_warning_outside_a_worker_save_is_shown_as_usual() -> None:
    from pylearn_lab.cache.warn import new_run

    new_run()
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        warn_once("/c/x", "untrusted", "shown to the user")
    assert [str(w.message) for w in shown] == ["shown to the user"]
