"""One contract, two indexes: every test here runs against SQLite and against PostgreSQL.

The team cache must behave exactly as the embedded one -- same values back,
same first-writer-wins, same refusals of damaged or planted entries, same
eviction and claims -- so the same assertions run on both. (The store helper's
Store conformance suite, when it lands, should take ``team`` as one more store.)
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pylearn_lab as pl
from pylearn_lab.cache import CacheWarning

psycopg = pytest.importorskip("psycopg")


@pytest.fixture(params=["sqlite", "postgres"])
def make_cache(request, tmp_path):
    """``make_cache()`` -> a new Cache object on the same storage (another "process" view)."""
    if request.param == "sqlite":
        where = tmp_path / "cache"
        return lambda **kw: pl.Cache(where, **kw)
    db = request.getfixturevalue("pg_server").new_database()
    return lambda **kw: pl.Cache(db, blobs=tmp_path / "blobs", **kw)


def _sql(cache, statement: str, *args):
    """Run one SQL statement on the cache's own index (qmark style translated for psycopg)."""
    conn = cache.store.index._conn()
    if cache.index_url is not None:
        statement = statement.replace("?", "%s").replace("FROM entries", "FROM pylearn_entries") \
            .replace("UPDATE entries", "UPDATE pylearn_entries")
    return conn.execute(statement, args)


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.binary(max_size=64),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=values, n=st.integers(0, 20_000))
def test_values_come_back_equal(make_cache, value, n) -> None:
    cache = make_cache()
    arr = np.arange(n, dtype=np.float32)  # above 64 KiB: a blob; below: inline
    key = pl.hash_value((value, n))[:32].ljust(32, "0")
    cache.save(key, {"v": value, "a": arr})
    hit, got = make_cache().lookup(key)
    assert hit and got["v"] == value and np.array_equal(got["a"], arr)


def test_concurrent_writers_of_one_key_one_wins(make_cache) -> None:
    caches = [make_cache() for _ in range(4)]
    won: list[bool] = []
    barrier = threading.Barrier(4)

    def write(c, i):
        barrier.wait()
        won.append(c.save("w" * 32, np.full(20_000, float(i))))

    threads = [threading.Thread(target=write, args=(c, i)) for i, c in enumerate(caches)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(won) == [False, False, False, True]
    hit, value = make_cache().lookup("w" * 32)
    assert hit and len(set(value.tolist())) == 1  # one writer's value, whole


def test_records_filter_and_invalidate_by_function(make_cache) -> None:
    cache = make_cache()
    for i in range(3):
        cache.save(f"{i}" * 32, i, {"func": "m.f" if i < 2 else "m.g", "created": 100.0 + i})
    assert [r.key[0] for r in cache.records()] == ["0", "1", "2"]  # oldest first
    assert [r.key[0] for r in cache.records(func="m.f")] == ["0", "1"]
    assert cache.store.delete([r.key for r in cache.records(func="m.f")]) == 2
    assert cache.info().entries == 1 and cache.clear() == 1 and cache.info().entries == 0


def test_a_damaged_inline_row_is_a_miss_not_a_wrong_value(make_cache) -> None:
    cache = make_cache()
    cache.save("d" * 32, {"acc": 0.9})
    raw = bytes(_sql(cache, "SELECT inline FROM entries WHERE key = ?", "d" * 32).fetchone()[0])
    at = raw.rindex(b"\x80\x05") + 4  # inside the pickle of the value (not the JSON header)
    bad = raw[:at] + bytes([raw[at] ^ 0x20]) + raw[at + 1:]
    _sql(cache, "UPDATE entries SET inline = ? WHERE key = ?", bad, "d" * 32)
    with pytest.warns(CacheWarning):
        assert make_cache().lookup("d" * 32) == (False, None)
    assert not cache.contains("d" * 32)  # dropped, so it is recomputed


def test_a_damaged_blob_is_found_by_verify_and_never_served(make_cache) -> None:
    cache = make_cache()
    cache.save("b" * 32, np.arange(50_000.0))
    blob = next(Path(cache.location, "blobs").glob("*/*"))
    data = bytearray(blob.read_bytes())
    data[-8:] = b"\x00" * 8
    blob.write_bytes(bytes(data))
    report = make_cache().verify()
    assert report.bad == ["b" * 32] and report.repaired
    assert make_cache().lookup("b" * 32) == (False, None)


def test_least_recently_used_go_first(make_cache) -> None:
    cache = make_cache(max_bytes="2MB")  # room for two of the three
    cache.save("1" * 32, np.zeros(100_000))
    time.sleep(0.01)
    cache.save("2" * 32, np.ones(100_000))
    time.sleep(0.01)
    assert cache.lookup("1" * 32)[0]  # 1 is now the most recently used
    cache.store.index.flush()
    cache.save("3" * 32, np.full(100_000, 3.0))
    assert cache.contains_many(["1" * 32, "2" * 32, "3" * 32]) == {"1" * 32, "3" * 32}


def test_claims_single_flight_the_same_way(make_cache) -> None:
    a, b = make_cache(), make_cache()
    assert a.try_claim_many(["x" * 32, "y" * 32], "h:1:a", 60) == {"x" * 32, "y" * 32}
    assert b.try_claim_many(["x" * 32], "otherhost:2:b", 60) == set()
    assert not b.try_claim("x" * 32, "otherhost:2:b", 60)
    a.release_many(["x" * 32], "h:1:a")
    assert b.try_claim("x" * 32, "otherhost:2:b", 60)
    a.save("y" * 32, 1)
    assert not b.try_claim("y" * 32, "otherhost:2:b", 60)  # stored: nothing left to compute


def test_a_run_then_a_rerun_from_another_cache_object(make_cache, tmp_path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()

    @pl.component
    def noted(i: int) -> int:
        (calls / f"{i}-{time.monotonic_ns()}").touch()
        return i * 2

    exprs = [noted(i) for i in range(30)]
    assert pl.run(exprs, cache=make_cache(), progress=False) == [i * 2 for i in range(30)]
    assert pl.run(exprs, cache=make_cache(), progress=False) == [i * 2 for i in range(30)]
    assert len(list(calls.iterdir())) == 30
