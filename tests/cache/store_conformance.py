"""The conformance suite every store must pass, through the PUBLIC ``Cache`` API only.

A test module subclasses :class:`StoreConformance` and provides ``make_cache``, a
fixture returning a function that opens a (new, or the same again) cache::

    class TestMemory(StoreConformance):
        @pytest.fixture
        def make_cache(self):
            return lambda: pl.Cache(":memory:")

Nothing here reaches into a store's internals, so the suite keeps meaning the same
while the stores behind ``Cache`` change. Hits and misses through ``run()`` are
proven with a counting function.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pylearn_lab as pl

__all__ = ["StoreConformance"]

K1, K2, K3 = "1" * 32, "2" * 32, "3" * 32

CALLS: list[int] = pl.untracked([])  # a counter the code writes to: not part of any key


@pl.component
def counted(x: int) -> int:
    CALLS.append(x)
    return x * 10


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                   max_size=4),
    max_leaves=12,
)


class StoreConformance:
    """Mixin: what every store behind ``Cache`` guarantees."""

    @pytest.fixture
    def make_cache(self) -> Callable[[], pl.Cache]:  # overridden by each subclass
        raise NotImplementedError("a StoreConformance subclass must define make_cache")

    @pytest.fixture
    def cache(self, make_cache: Callable[[], pl.Cache]) -> pl.Cache:
        return make_cache()

    # -- values ----------------------------------------------------------------------------
    def test_a_miss_is_a_miss(self, cache: pl.Cache) -> None:
        assert cache.lookup(K1) == (False, None)
        with pytest.raises(KeyError):
            cache.load(K1)
        assert not cache.contains(K1) and cache.contains_many([K1, K2]) == set()

    def test_save_then_lookup_gives_the_value_back(self, cache: pl.Cache) -> None:
        assert cache.save(K1, {"a": [1, 2.5, "x"], "b": None})
        assert cache.lookup(K1) == (True, {"a": [1, 2.5, "x"], "b": None})
        assert cache.load(K1) == {"a": [1, 2.5, "x"], "b": None}
        assert cache.contains(K1) and cache.contains_many([K1, K2, K3]) == {K1}

    def test_none_is_a_value_not_a_miss(self, cache: pl.Cache) -> None:
        cache.save(K1, None)
        assert cache.lookup(K1) == (True, None)

    def test_arrays_round_trip_with_dtype_and_shape(self, cache: pl.Cache) -> None:
        for i, a in enumerate([np.arange(12, dtype=np.int16).reshape(3, 4),
                               np.linspace(0, 1, 7), np.zeros((0, 3)),
                               np.array(["a", "bc"]), np.asfortranarray(np.eye(3))]):
            key = f"{i:032d}"
            cache.save(key, a)
            got = cache.load(key)
            assert got.dtype == a.dtype and got.shape == a.shape and np.array_equal(got, a)

    def test_the_first_value_stored_wins(self, cache: pl.Cache) -> None:
        assert cache.save(K1, "first") is True
        assert cache.save(K1, "second") is False  # already stored: entries are immutable
        assert cache.load(K1) == "first"

    def test_a_value_mutated_after_saving_does_not_change_the_entry(self, cache: pl.Cache) -> None:
        v = [1, 2, 3]
        cache.save(K1, v)
        v.append(4)
        assert cache.load(K1) == [1, 2, 3]
        got = cache.load(K1)
        if isinstance(got, list):
            got.append(5)
        assert cache.load(K1) == [1, 2, 3]

    def test_an_unpicklable_value_is_refused_at_save(self, cache: pl.Cache) -> None:
        with pytest.raises(pl.UnpicklableError):
            cache.save(K1, threading.Lock())
        assert not cache.contains(K1)

    # one test body per store subclass, on purpose: hence differing executors
    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.differing_executors])
    @given(value=_json)
    def test_any_plain_value_round_trips(self, make_cache: Callable[[], pl.Cache], value: Any) -> None:
        cache = make_cache()
        key = "9" * 32
        cache.invalidate(key)
        cache.save(key, value)
        assert cache.load(key) == value

    # -- removing ----------------------------------------------------------------------------
    def test_invalidate_and_clear(self, cache: pl.Cache) -> None:
        for k in (K1, K2, K3):
            cache.save(k, k)
        assert cache.invalidate(K1) == 1
        assert cache.invalidate(K1) == 0
        assert cache.contains_many([K1, K2, K3]) == {K2, K3}
        assert cache.clear() == 2
        assert cache.contains_many([K1, K2, K3]) == set() and cache.info().entries == 0

    # -- records (the experiment database) ------------------------------------------------------
    def test_records_describe_what_was_stored(self, cache: pl.Cache) -> None:
        assert pl.run(counted(4), cache=cache) == 40
        rec = cache.record(counted(4))
        assert rec is not None and rec.key == counted(4).key
        assert rec.label == "counted" and rec.params == {"x": 4}
        assert [r.key for r in cache.records(func=counted)] == [counted(4).key]
        assert cache.record(K3) is None

    def test_info_counts_entries_hits_and_misses(self, cache: pl.Cache) -> None:
        cache.save(K1, b"x" * 100)
        cache.lookup(K1)
        cache.lookup(K2)
        info = cache.info()
        assert info.entries == 1 and info.bytes > 0 and info.hits == 1 and info.misses == 1

    def test_verify_accepts_good_entries(self, cache: pl.Cache) -> None:
        cache.save(K1, [1])
        cache.verify(repair=True)
        assert cache.load(K1) == [1]

    # -- through run(): hits and misses, counted ---------------------------------------------------
    def test_run_computes_once_then_hits(self, cache: pl.Cache) -> None:
        CALLS.clear()
        assert pl.run([counted(1), counted(2)], cache=cache) == [10, 20]
        assert pl.run([counted(1), counted(2), counted(3)], cache=cache) == [10, 20, 30]
        assert CALLS == [1, 2, 3]
        assert pl.call(counted, (3,), cache=cache).result() == 30 and CALLS == [1, 2, 3]

    def test_a_reopened_cache_sees_what_a_shareable_one_stored(
            self, make_cache: Callable[[], pl.Cache]) -> None:
        first = make_cache()
        first.save(K1, "kept")
        again = make_cache()
        assert again.contains(K1) == first.shareable
        if first.shareable:
            assert again.load(K1) == "kept"

    # -- single flight -------------------------------------------------------------------------
    def test_claims_exclude_other_owners_until_released(self, cache: pl.Cache) -> None:
        me = f"{socket.gethostname()}:{os.getpid()}"  # a live owner: never taken over
        assert cache.try_claim(K1, f"{me}:a")
        assert not cache.try_claim(K1, f"{me}:b")  # another owner holds it
        assert cache.try_claim_many([K1, K2], f"{me}:b") == {K2}
        cache.release(K1, f"{me}:a")
        assert cache.try_claim(K1, f"{me}:b")
        cache.release_many([K1, K2], f"{me}:b")
        assert cache.try_claim_many([K1, K2], f"{me}:a") == {K1, K2}

    def test_a_stored_key_cannot_be_claimed(self, cache: pl.Cache) -> None:
        cache.save(K1, 1)
        assert not cache.try_claim(K1, "h:1:a")

    def test_concurrent_saves_of_one_key_store_one_value(self, cache: pl.Cache) -> None:
        results: list[bool] = []
        barrier = threading.Barrier(4)

        def save(i: int) -> None:
            barrier.wait()
            results.append(cache.save(K1, "same"))

        threads = [threading.Thread(target=save, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(True) == 1 and cache.load(K1) == "same"
