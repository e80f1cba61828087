"""The hit memo (cache/memo.py): repeated small hits skip the row read and both MACs,
and nothing deleted, evicted, replaced, forged or replayed -- by another process,
another store object or another thread -- is ever served from it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import warnings

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.cache import CacheWarning
from pylearn_lab.cache.disk import INLINE_MAX
from pylearn_lab.cache.memo import HitMemo
from pylearn_lab.cache.serialize import encode, layout
from pylearn_lab.cache.warn import new_run
from pylearn_lab.graph.component import as_component

K = "a" * 32
CALLS: list[int] = pl.untracked([])  # a counter the code writes to: not part of any key


def counted_add(x: int, y: int) -> int:
    CALLS.append(1)
    return x + y


class Planted:
    """Unpickling this creates ``path``: the proof that planted bytes were loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.path, "w"))


def _fetch_counter(cache: pl.Cache) -> list[str]:
    """Count the index row reads of ``cache`` (the real fetch still runs)."""
    seen: list[str] = []
    index = cache.store.index
    real = index.fetch

    def fetch(key: str):  # type: ignore[no-untyped-def]
        seen.append(key)
        return real(key)

    index.fetch = fetch  # type: ignore[method-assign]
    return seen


def _other_process(root, code: str) -> None:
    """Run ``code`` in a fresh interpreter with ``c`` = the cache at ``root``, ``K`` = the key."""
    prelude = f"import sqlite3, sys\nimport pylearn_lab as pl\nc = pl.Cache({str(root)!r})\nK = {K!r}\n"
    proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120, env=os.environ.copy(),
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _warm(cache: pl.Cache, key: str, want: object) -> list[str]:
    """Two hits, the second from the memo (no row read); returns the fetch log."""
    seen = _fetch_counter(cache)
    assert cache.lookup(key) == (True, want)
    assert cache.lookup(key) == (True, want)
    assert seen == [key], "the second hit should come from the memo"
    return seen


def test_repeated_small_hits_skip_the_row_and_come_back_equal(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    CALLS.clear()
    assert pl.call(counted_add, (1, 2), cache=cache).result() == 3
    seen = _fetch_counter(cache)
    for _ in range(20):
        assert pl.call(counted_add, (1, 2), cache=cache).result() == 3
    assert len(CALLS) == 1  # computed once, 20 hits
    assert len(seen) == 1  # one row read, 19 hits from the memo
    assert cache.info().hits == 20


def test_every_memo_hit_is_a_fresh_object(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    cache.save(K, {"a": [1, 2]})
    first = cache.load(K)
    first["a"].append(99)
    second = cache.load(K)
    assert second == {"a": [1, 2]} and second is not first
    arr_key = "b" * 32
    cache.save(arr_key, np.arange(5))
    a1, a2 = cache.load(arr_key), cache.load(arr_key)
    assert not a1.flags.writeable  # a read-only view: the shared bytes cannot be changed
    np.testing.assert_array_equal(a2, np.arange(5))


@pytest.mark.parametrize("how", ["invalidate", "clear", "prune"])
def test_an_entry_removed_by_another_process_is_not_served_from_the_memo(tmp_path, how):
    root = tmp_path / "c"
    cache = pl.Cache(root)
    CALLS.clear()
    key = as_component(counted_add)(2, 3).key
    assert pl.call(counted_add, (2, 3), cache=cache).result() == 5
    _warm(cache, key, 5)
    action = {"invalidate": "assert c.invalidate(K) == 1",
              "clear": "assert c.clear() == 1",
              "prune": "assert c.prune(1) == 1"}[how]
    _other_process(root, f"K = {key!r}\n{action}\n")
    assert cache.lookup(key) == (False, None)
    assert pl.call(counted_add, (2, 3), cache=cache).result() == 5
    assert len(CALLS) == 2  # recomputed: the memo did not answer for the deleted entry


def test_an_entry_replaced_by_another_process_serves_the_new_value(tmp_path):
    root = tmp_path / "c"
    cache = pl.Cache(root)
    cache.save(K, "old")
    _warm(cache, K, "old")
    _other_process(root, "assert c.invalidate(K) == 1\nassert c.save(K, 'new')\n")
    assert cache.lookup(K) == (True, "new")


def test_a_row_forged_by_another_process_after_a_hit_is_refused_unread(tmp_path):
    root = tmp_path / "c"
    marker = tmp_path / "UNPICKLED"
    cache = pl.Cache(root)
    cache.save(K, "genuine")
    _warm(cache, K, "genuine")
    head, payload, checksum = encode(Planted(str(marker)))
    parts, size = layout({**head, "checksum": checksum}, payload)
    blob = b"".join(bytes(p) for p in parts)
    _other_process(root, f"""
        db = sqlite3.connect(c.store.index.path, isolation_level=None)
        db.execute("UPDATE entries SET inline = ?, size = ?, checksum = ?, mac = ? WHERE key = ?",
                   ({blob!r}, {size}, {checksum!r}, "0" * 64, K))
    """)
    new_run()
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert cache.lookup(K) == (False, None)
    assert not marker.exists(), "planted bytes were unpickled"


def test_an_entry_deleted_and_put_back_by_another_process_is_refused(tmp_path):
    root = tmp_path / "c"
    cache = pl.Cache(root)
    cache.save(K, [1, 2, 3])
    _warm(cache, K, [1, 2, 3])
    _other_process(root, """
        db = sqlite3.connect(c.store.index.path, isolation_level=None)
        row = db.execute("SELECT * FROM entries WHERE key = ?", (K,)).fetchone()
        assert c.invalidate(K) == 1
        db.execute(f"INSERT INTO entries VALUES ({','.join('?' * len(row))})", row)
    """)
    new_run()
    with pytest.warns(CacheWarning, match="deleted earlier and put back"):
        assert cache.lookup(K) == (False, None)


def test_a_delete_through_another_cache_object_of_this_process_is_seen(tmp_path):
    root = tmp_path / "c"
    cache = pl.Cache(root)
    cache.save(K, "v")
    _warm(cache, K, "v")
    assert pl.Cache(root).invalidate(K) == 1  # its own connection: data_version moves
    assert cache.lookup(K) == (False, None)


def test_a_delete_from_another_thread_of_the_same_cache_is_seen(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    cache.save(K, "v")
    _warm(cache, K, "v")
    t = threading.Thread(target=lambda: cache.invalidate(K))
    t.start()
    t.join()
    assert cache.lookup(K) == (False, None)


def test_this_process_own_delete_and_eviction_empty_the_memo(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    cache.save(K, "v")
    _warm(cache, K, "v")
    cache.invalidate(K)
    assert cache.lookup(K) == (False, None)
    cache.save(K, "v2")
    assert cache.lookup(K) == (True, "v2")
    cache.lookup(K)
    assert cache.prune(1) == 1
    assert cache.lookup(K) == (False, None)


def test_blob_files_are_not_memoised_an_altered_blob_is_refused_after_hits(tmp_path):
    root = tmp_path / "c"
    cache = pl.Cache(root)
    big = np.arange(INLINE_MAX // 8 + 100, dtype=np.float64)
    cache.save(K, big)
    for _ in range(3):
        hit, v = cache.lookup(K)
        assert hit and np.array_equal(v, big)
        del v
    path = next((root / "blobs").glob("*/*"))
    data = bytearray(path.read_bytes())
    data[-8:] = b"\x01" * 8
    with open(path, "r+b") as f:  # in place, same inode
        f.write(data)
    new_run()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        assert cache.lookup(K) == (False, None)


def test_the_memo_is_bounded_by_bytes_and_entries():
    memo = HitMemo(max_bytes=1000, max_entries=3)
    stamp = ("s", 1, 1)
    for i in range(10):
        memo.remember(stamp, f"{i:032d}", ("pickle", 300, b"x" * 300, None))
    kept = [i for i in range(10) if memo.entry_for(stamp, f"{i:032d}") is not None]
    assert kept == [7, 8, 9]  # the newest, under both bounds
    memo.remember(stamp, "big" + "0" * 29, ("pickle", 2000, b"x" * 2000, None))
    assert memo.entry_for(stamp, "big" + "0" * 29) is None  # bigger than the whole memo


def test_the_store_memo_stays_within_its_bound(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    cache.store._memo = HitMemo(max_bytes=200_000)
    for i in range(40):
        key = f"{i:032x}"
        cache.save(key, np.full(5000, i, dtype=np.int64))  # 40 KB each, inline
        cache.lookup(key)
    slot = cache.store._memo._local.slot
    assert 0 < slot.nbytes <= 200_000 and len(slot.entries) <= 5


def test_the_read_stamp_moves_with_writes_of_any_connection(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    index = cache.store.index
    s0 = index.read_stamp()
    assert index.read_stamp() == s0  # a read changes nothing
    cache.save(K, 1)
    s1 = index.read_stamp()
    assert s1 != s0  # this connection wrote
    db = sqlite3.connect(index.path, isolation_level=None)
    db.execute("UPDATE entries SET label = 'x' WHERE key = ?", (K,))
    db.close()
    assert index.read_stamp() != s1  # another connection wrote


def test_hits_never_go_back_in_time_while_another_process_rewrites_the_entry(tmp_path):
    """A writer process replaces the value of K 150 times, publishing the number of each
    finished save; every hit here must return a value at least as new as the last save
    finished before the lookup began (a stale memo would return an older one)."""
    root = tmp_path / "c"
    progress = tmp_path / "progress"
    progress.write_text("0")
    cache = pl.Cache(root)
    cache.save(K, 0)
    code = textwrap.dedent(f"""
        import os, sys
        import pylearn_lab as pl
        c = pl.Cache({str(root)!r})
        for i in range(1, 151):
            c.invalidate({K!r})
            assert c.save({K!r}, i)
            with open({str(progress)!r} + ".tmp", "w") as f:
                f.write(str(i))
            os.replace({str(progress)!r} + ".tmp", {str(progress)!r})
    """)
    writer = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy(),
                              stderr=subprocess.PIPE, text=True)
    hits = 0
    try:
        while writer.poll() is None:
            done = int(progress.read_text() or 0)
            hit, value = cache.lookup(K)
            if hit:
                hits += 1
                assert value >= done, f"served {value} after save {done} had finished"
    finally:
        writer.wait(60)
    assert writer.returncode == 0, writer.stderr.read()[-2000:] if writer.stderr else ""
    assert cache.lookup(K) == (True, 150)
    assert hits > 0
