"""The on-disk cache: round trips, zero copy, integrity, limits, concurrency, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

from pylearn_lab import Cache
from pylearn_lab.cache import CacheWarning, MemoryStore
from pylearn_lab.cache.disk import INLINE_MAX

K1, K2, K3 = "1" * 32, "2" * 32, "3" * 32


def test_round_trip_of_many_kinds(tmp_path):
    c = Cache(tmp_path)
    values = {
        K1: {"a": [1, 2.5, "x"], "b": (None, True)},
        K2: np.arange(INLINE_MAX, dtype=np.float64),  # a blob file
        K3: np.arange(5, dtype=np.int8),  # inline in the index
    }
    for k, v in values.items():
        assert c.save(k, v, {"func": "t.f"})
    assert c.load(K1) == values[K1]
    np.testing.assert_array_equal(c.load(K2), values[K2])
    np.testing.assert_array_equal(c.load(K3), values[K3])
    assert c.info().entries == 3


def test_large_arrays_come_back_as_read_only_memory_maps(tmp_path):
    c = Cache(tmp_path)
    a = np.random.default_rng(0).random((512, 256))
    c.save(K1, a)
    got = c.load(K1)
    np.testing.assert_array_equal(got, a)
    assert not got.flags.writeable and not got.flags.owndata  # a view on the mapped file
    c.save(K2, {"w": a, "n": 3})
    inner = c.load(K2)["w"]
    assert not inner.flags.writeable and not inner.flags.owndata  # zero-copy inside containers too


def test_second_writer_of_a_key_is_a_no_op(tmp_path):
    c = Cache(tmp_path)
    assert c.save(K1, np.zeros(INLINE_MAX))
    assert not c.save(K1, np.ones(INLINE_MAX))
    assert float(c.load(K1).sum()) == 0.0
    assert len(list((tmp_path / "blobs").glob("*/*"))) == 1


def test_corrupted_blob_is_dropped_with_a_warning_never_returned(tmp_path):
    c = Cache(tmp_path)
    c.save(K1, np.arange(INLINE_MAX, dtype=np.float64))
    blob = next((tmp_path / "blobs").glob("*/*"))
    raw = bytearray(blob.read_bytes())
    raw[-100] ^= 0xFF
    blob.write_bytes(bytes(raw))
    fresh = Cache(tmp_path)  # a new process would not have verified it yet
    from pylearn_lab.cache import disk

    disk._VERIFIED.clear()
    with pytest.warns(CacheWarning, match="checksum"):
        hit, value = fresh.lookup(K1)
    assert (hit, value) == (False, None)
    assert not fresh.contains(K1)


def test_corrupted_inline_entry_is_dropped(tmp_path):
    c = Cache(tmp_path)
    c.save(K1, {"x": 1})
    import sqlite3

    con = sqlite3.connect(tmp_path / "index.sqlite")
    row = con.execute("SELECT inline FROM entries WHERE key=?", (K1,)).fetchone()[0]
    bad = bytearray(row)
    bad[-3] ^= 0x01
    con.execute("UPDATE entries SET inline=? WHERE key=?", (bytes(bad), K1))
    con.commit()
    con.close()
    with pytest.warns(CacheWarning):
        assert Cache(tmp_path).lookup(K1) == (False, None)


def test_max_bytes_evicts_least_recently_used(tmp_path):
    c = Cache(tmp_path, max_bytes="350KiB")
    big = np.zeros(100 * 1024 // 8)  # 100 KiB each
    for i, k in enumerate([K1, K2, K3]):
        c.save(k, big + i)
        time.sleep(0.01)
    c.store.index.touch(K1)  # K1 used recently: K2 is now the oldest
    c.store.index.flush()
    c.save("4" * 32, big + 4)
    assert c.info().bytes <= 350 * 1024 and c.info().entries == 3
    assert c.contains(K1) and not c.contains(K2) and c.contains("4" * 32)
    assert c.prune(0) >= 1 and c.info().entries == 0


def test_invalidate_clear_and_records(tmp_path):
    c = Cache(tmp_path)
    c.save(K1, 0.5, {"func": "m.fit", "params": {"lr": 0.1}})
    c.save(K2, 0.7, {"func": "m.fit", "params": {"lr": 0.2}})
    c.save(K3, 1, {"func": "m.other"})
    recs = c.records("m.fit")
    assert sorted(r.params["lr"] for r in recs) == [0.1, 0.2]
    assert c.record(K1).summary == {"value": 0.5}
    assert c.invalidate(K1) == 1 and not c.contains(K1)
    assert c.clear() == 2 and c.info().entries == 0


def test_directory_and_secret_are_private(tmp_path):
    root = tmp_path / "c"
    c = Cache(root)
    c.save(K1, np.zeros(INLINE_MAX))
    assert (root.stat().st_mode & 0o777) == 0o700
    assert not (root / "secret.key").exists()  # the key lives with the user, not the cache
    from pylearn_lab.cache.keyring import user_key_path

    key = user_key_path()
    assert (key.stat().st_mode & 0o777) == 0o600 and (key.parent.stat().st_mode & 0o777) == 0o700
    assert ((root / "pylearn-cache.json").stat().st_mode & 0o777) == 0o600
    assert ((root / "index.sqlite").stat().st_mode & 0o777) == 0o600
    blob = next((root / "blobs").glob("*/*"))
    assert (blob.stat().st_mode & 0o777) == 0o600


def test_path_that_is_a_file_is_a_clear_error(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    from pylearn_lab.errors import CacheError

    with pytest.raises(CacheError, match="not a directory"):
        Cache(f)


def test_memory_store_back_end():
    c = Cache(":memory:")
    assert c.save(K1, [1]) and c.load(K1) == [1] and not c.shareable
    c2 = Cache(store=MemoryStore())
    assert not c2.contains(K1)


WRITER = textwrap.dedent("""
    import sys, numpy as np
    from pylearn_lab import Cache
    c = Cache(sys.argv[1])
    wid = int(sys.argv[2])
    for i in range(40):
        key = f"{i % 20:032x}"      # overlapping keys across writers
        c.save(key, np.full(2000 if i % 2 else 20000, i % 20, dtype=np.int64), {"func": "w"})
        c.load(key)
    print("ok")
""")


def test_several_processes_writing_at_once(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(w)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.strip() == "ok"
    c = Cache(tmp_path)
    assert c.info().entries == 20
    for i in range(20):
        assert set(np.unique(c.load(f"{i:032x}")).tolist()) == {i}
    report = c.verify(repair=False)
    assert report.ok, str(report)


KILLED = textwrap.dedent("""
    import sys, numpy as np
    from pylearn_lab import Cache
    c = Cache(sys.argv[1])
    c.save("f" * 32, np.ones(60_000_000 // 8))  # ~60 MB: slow enough to be killed mid-write
    print("done")
""")


def test_writer_killed_mid_write_leaves_no_visible_entry(tmp_path):
    Cache(tmp_path).save(K1, 1)
    p = subprocess.Popen([sys.executable, "-c", KILLED, str(tmp_path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not list((tmp_path / "tmp").glob("*.tmp")):
        time.sleep(0.002)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    c = Cache(tmp_path)
    assert not c.contains("f" * 32)
    assert c.lookup(K1) == (True, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = c.verify(repair=True)
    assert report.orphans >= 1 and not report.bad
    assert not list((tmp_path / "tmp").glob("*.tmp"))
    assert c.verify(repair=False).ok


def test_an_altered_header_over_an_intact_payload_is_refused(tmp_path):
    c = Cache(tmp_path)
    c.save(K1, np.arange(INLINE_MAX, dtype=np.float64))
    blob = next((tmp_path / "blobs").glob("*/*"))
    raw = blob.read_bytes()
    assert b'"<f8"' in raw
    blob.write_bytes(raw.replace(b'"<f8"', b'"<i8"', 1))  # same length: payload untouched
    from pylearn_lab.cache import disk

    disk._VERIFIED.clear()
    with pytest.warns(CacheWarning, match="checksum"):
        assert Cache(tmp_path).lookup(K1) == (False, None)


def test_stores_declare_their_scope_and_reopen_from_their_spec(tmp_path):
    from pylearn_lab.cache import DiskStore, open_store, register_store

    disk, mem = Cache(tmp_path / "d"), Cache(":memory:")
    assert disk.store.scope == "host" and mem.store.scope == "process"
    assert disk.shareable and not mem.shareable and mem.spec() is None
    disk.save(K1, [1, 2])
    again = open_store(disk.store.spec())
    assert isinstance(again, DiskStore) and Cache(store=again).load(K1) == [1, 2]

    class Shared(MemoryStore):
        """A store other processes could open (as a server-backed one would)."""

        scope = "shared"

        def spec(self):
            return ("shared-demo", "x")

    shared = Shared()
    register_store("shared-demo", lambda name: shared)
    c = Cache(store=shared, max_bytes="1MB")
    assert c.shareable and c.spec() == ("store", ("shared-demo", "x"), 1_000_000)
    c.save(K2, 7)
    assert Cache.from_spec(c.spec()).load(K2) == 7
    with pytest.raises(ValueError, match="register the store kind"):
        open_store(("nope",))
