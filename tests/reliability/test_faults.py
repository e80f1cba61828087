"""Faults: a full disk, a read-only cache, a damaged index, damaged blobs, a stuck lock.

The rule under test: a storage problem is a :class:`CacheWarning` and a
recompute -- the run completes with the right values, never a crash, never a
half-written entry, never a wrong value. Real faults where the machine allows
(a tiny tmpfs that fills up or is remounted read-only: needs root, as in CI),
plus simulated ones (``OSError`` raised from ``os.open``/``os.replace``) that
run everywhere.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.cache import CacheWarning
from pylearn_lab.cache import cache as cache_module
from pylearn_lab.cache.serialize import read_header
from pylearn_lab.errors import CacheCorruptError

from . import workloads as wl
from .conftest import failing_writes

SIZES = [20_000 if i % 2 else 3_000 for i in range(16)]  # 160 kB blobs and 24 kB inline rows


def _graph(calls: Path, sizes=SIZES):
    return [wl.big(str(calls), i, n) for i, n in enumerate(sizes)]


def _values_right(out, sizes=SIZES) -> bool:
    return all(v.shape == (n,) and bool((v == i).all()) for i, (v, n) in enumerate(zip(out, sizes)))


def _computed(calls: Path) -> list[str]:
    return sorted(p.name.split("-")[0] for p in calls.iterdir())


def _assert_consistent(cache: pl.Cache, sizes=SIZES) -> int:
    """Index and files agree, no temp file is left, every stored entry is right."""
    report = cache.verify(repair=False)
    assert report.ok, str(report)
    assert not list(Path(cache.location, "tmp").iterdir())
    n = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        for rec in cache.records():
            i = int(rec.params["i"])
            assert np.array_equal(cache.load(rec.key), np.full(sizes[i], float(i)))
            n += 1
    return n


@pytest.fixture
def calls(tmp_path):
    d = tmp_path / "calls"
    d.mkdir()
    return d


# -- disk full -----------------------------------------------------------------------
def test_disk_full_for_real_warns_and_the_run_completes(tiny_fs_factory, calls, figures):
    fs = tiny_fs_factory(size_kib=640)
    cache = pl.Cache(fs.path / "cache")
    with pytest.warns(CacheWarning, match="not cached"):
        out = pl.run(_graph(calls), cache=cache, progress=False)
    assert _values_right(out)
    stored = _assert_consistent(cache)
    assert 0 < stored < len(SIZES), "the disk did not fill up: the test proves nothing"
    # the next run serves what was stored and computes the rest again, still right
    with pytest.warns(CacheWarning):
        assert _values_right(pl.run(_graph(calls), cache=cache, progress=False))
    assert len(_computed(calls)) == 2 * len(SIZES) - stored
    cache.close()
    figures["faults_injected"] = figures.get("faults_injected", 0) + 1


def test_disk_full_simulated_warns_and_leaves_no_partial_blob(tmp_path, calls, figures):
    cache = pl.Cache(tmp_path / "cache")
    with failing_writes(errno.ENOSPC, tmp_path / "cache"), \
            pytest.warns(CacheWarning, match="No space left on device"):
        out = pl.run(_graph(calls), cache=cache, progress=False)
    assert _values_right(out)
    assert not list((tmp_path / "cache" / "blobs").glob("*/*"))  # no blob could be written
    stored = _assert_consistent(cache)
    assert stored == len(SIZES) // 2  # the inline rows went into SQLite, which was not hit
    figures["faults_injected"] = figures.get("faults_injected", 0) + 1


# -- read-only cache directory ----------------------------------------------------------------
def _fill_half(path: Path, calls: Path) -> None:
    c = pl.Cache(path)
    pl.run(_graph(calls, SIZES[:8]), cache=c, progress=False)
    c.close()


def _files(path: Path) -> list[str]:
    # SQLite's shared-memory files may appear beside the index (simulation only)
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")
                  if not p.name.endswith(("-shm", "-wal")))


def _run_on_read_only(path: Path, calls: Path) -> None:
    before = _files(path)
    cache = pl.Cache(path)
    assert cache.store.read_only
    with pytest.warns(CacheWarning, match="read-only"):
        out = pl.run(_graph(calls), cache=cache, progress=False)
    assert _values_right(out)
    # the first half came from the cache, the second half was computed and not stored
    assert len(_computed(calls)) == 8 + len(SIZES) - 8
    assert _files(path) == before
    cache.close()


def test_read_only_cache_for_real_serves_hits_and_runs_uncached(tiny_fs_factory, calls, figures):
    fs = tiny_fs_factory(size_kib=4096)
    _fill_half(fs.path / "cache", calls)
    (fs.path / "empty").mkdir()
    assert fs.read_only(), "could not remount the tmpfs read-only"
    with pytest.raises(OSError):  # even root cannot write now
        (fs.path / "probe").touch()
    _run_on_read_only(fs.path / "cache", calls)
    # a read-only directory that never held a cache: runs go on, nothing is stored
    empty = pl.Cache(fs.path / "empty")
    with pytest.warns(CacheWarning, match="read-only"):
        assert _values_right(pl.run(_graph(calls), cache=empty, progress=False))
    assert not list((fs.path / "empty").iterdir())
    empty.close()
    figures["faults_injected"] = figures.get("faults_injected", 0) + 2


def test_read_only_cache_simulated(tmp_path, calls, monkeypatch, figures):
    path = tmp_path / "cache"
    _fill_half(path, calls)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if (
        mode & os.W_OK and str(p).startswith(str(path))) else real_access(p, mode, **kw))
    with failing_writes(errno.EROFS, path):
        _run_on_read_only(path, calls)
    figures["faults_injected"] = figures.get("faults_injected", 0) + 1


def test_an_unusable_default_cache_directory_warns_and_runs_in_memory(tmp_path, calls, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("PYLEARN_CACHE", str(blocker / "cache"))  # cannot exist, even for root
    monkeypatch.setattr(cache_module, "_DEFAULT", None)
    with pytest.warns(CacheWarning, match="PYLEARN_CACHE"):
        out = pl.run(_graph(calls, SIZES[:4]), progress=False)
    assert _values_right(out, SIZES[:4])
    assert pl.get_default_cache().location == ":memory:"


# -- damaged index ---------------------------------------------------------------------
def _filled(path: Path, calls: Path) -> None:
    c = pl.Cache(path)
    pl.run(_graph(calls), cache=c, progress=False)
    c.close()
    assert not Path(str(path / "index.sqlite") + "-wal").exists()


@pytest.mark.parametrize("damage", ["garbage", "truncated", "header", "empty"])
def test_an_index_damaged_beyond_opening_is_rebuilt_from_the_blobs(tmp_path, calls, damage, figures):
    path = tmp_path / "cache"
    _filled(path, calls)
    index = path / "index.sqlite"
    data = index.read_bytes()
    index.write_bytes({"garbage": os.urandom(len(data)), "truncated": data[: len(data) // 2],
                       "header": b"\x00" * 100 + data[100:], "empty": b"x"}[damage])
    with pytest.warns(CacheWarning, match="rebuilt from the blob files"):
        cache = pl.Cache(path)
    assert list(path.glob("index.sqlite.corrupt-*")), "the damaged index was not kept aside"
    assert cache.verify(repair=False).ok
    n_before = len(_computed(calls))
    assert _values_right(pl.run(_graph(calls), cache=cache, progress=False))
    # blob entries survived the rebuild; only the small inline ones are computed again
    assert len(_computed(calls)) - n_before == len(SIZES) // 2
    assert _assert_consistent(cache) == len(SIZES)
    figures["faults_injected"] = figures.get("faults_injected", 0) + 1


def test_damage_found_after_opening_names_the_repair_and_verify_repairs(tmp_path, calls, figures):
    path = tmp_path / "cache"
    _filled(path, calls)
    index = path / "index.sqlite"
    with sqlite3.connect(index) as db:
        size = db.execute("PRAGMA page_size").fetchone()[0]
        try:
            pages = [r[0] for r in db.execute(
                "SELECT pageno FROM dbstat WHERE name = 'entries' AND pagetype = 'leaf'")]
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to find the table's pages")
    db.close()
    data = bytearray(index.read_bytes())
    for n in pages:  # the table's rows; its indexes (which opening counts through) stay intact
        data[(n - 1) * size : n * size] = os.urandom(size)
    index.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        cache = pl.Cache(path)  # opens without noticing anything
    keys = [e.key for e in _graph(calls)]
    with pytest.warns(CacheWarning, match=r"verify\(\)"):  # the message names the repair
        hits = [cache.lookup(k) for k in keys]
    assert all(not hit for hit, _ in hits), "a row on a damaged page was served"
    with pytest.raises(CacheCorruptError, match=r"verify\(\)"):
        cache.verify(repair=False)
    with pytest.warns(CacheWarning, match="rebuilt"):
        report = cache.verify(repair=True)
    assert report.rebuilt and report.repaired
    assert cache.verify(repair=False).ok
    assert _values_right(pl.run(_graph(calls), cache=cache, progress=False))
    _assert_consistent(cache)
    figures["faults_injected"] = figures.get("faults_injected", 0) + 1


# -- damaged blobs -------------------------------------------------------------------------
def _damage_blob(blob: Path, how: str) -> None:
    data = bytearray(blob.read_bytes())
    _, offset = read_header(memoryview(bytes(data)))
    if how == "truncated":
        blob.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "flipped":
        data[offset + 100] ^= 0x01
        blob.write_bytes(bytes(data))
    elif how == "empty":
        blob.write_bytes(b"")
    elif how == "magic":
        blob.write_bytes(b"XXXX" + bytes(data[4:]))
    elif how == "deleted":
        blob.unlink()


BLOB_DAMAGE = ["truncated", "flipped", "empty", "magic", "deleted"]


@pytest.mark.parametrize("how", BLOB_DAMAGE)
def test_a_damaged_input_blob_is_recomputed_never_returned(tmp_path, calls, how, figures):
    cache = pl.Cache(tmp_path / "cache")
    src = wl.big(str(calls), 1, 20_000)
    out = wl.square(str(calls), src)
    assert bool((pl.run(out, cache=cache, progress=False) == 1.0).all())
    cache.invalidate(out)  # the next run needs src as an input from the cache
    blob = next((tmp_path / "cache" / "blobs").glob("*/*"))
    _damage_blob(blob, how)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        value = pl.run(out, cache=cache, progress=False)
    assert bool((value == 1.0).all()) and value.shape == (20_000,)
    assert _computed(calls).count("big1") == 2, "the damaged input was not recomputed"
    if how != "deleted":  # a vanished file is a plain miss; damage is reported
        assert any(issubclass(w.category, CacheWarning) for w in seen)
    assert cache.verify(repair=False).ok
    figures["faults_injected"] = figures.get("faults_injected", 0) + 1


@pytest.mark.parametrize("how", ["flipped"])
def test_a_damaged_output_blob_is_recomputed_never_returned(tmp_path, calls, how):
    cache = pl.Cache(tmp_path / "cache")
    src = wl.big(str(calls), 1, 20_000)
    pl.run(src, cache=cache, progress=False)
    _damage_blob(next((tmp_path / "cache" / "blobs").glob("*/*")), how)
    with pytest.warns(CacheWarning):
        value = pl.run(src, cache=cache, progress=False)
    assert bool((value == 1.0).all()) and _computed(calls).count("big1") == 2


@pytest.mark.parametrize("how", BLOB_DAMAGE)
def test_a_damaged_blob_is_never_returned_by_lookup(tmp_path, how):
    cache = pl.Cache(tmp_path / "cache")
    key = wl.key_for(0)
    cache.save(key, wl.value_for(0))
    _damage_blob(next((tmp_path / "cache" / "blobs").glob("*/*")), how)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        assert cache.lookup(key) == (False, None)
    assert not cache.contains(key), "the broken entry was left in the index"
    with pytest.raises(KeyError, match="no valid cache entry"):
        cache.load(key)


def test_a_damaged_inline_row_is_never_returned(tmp_path):
    cache = pl.Cache(tmp_path / "cache")
    key = wl.key_for(1)
    cache.save(key, wl.value_for(1))
    with sqlite3.connect(tmp_path / "cache" / "index.sqlite") as db:
        (inline,) = db.execute("SELECT inline FROM entries WHERE key = ?", (key,)).fetchone()
        bad = bytearray(inline)
        bad[-5] ^= 0xFF
        db.execute("UPDATE entries SET inline = ? WHERE key = ?", (bytes(bad), key))
    db.close()
    with pytest.warns(CacheWarning, match="checksum"):
        assert cache.lookup(key) == (False, None)


# -- locks ---------------------------------------------------------------------------------
def test_a_lock_held_briefly_elsewhere_is_waited_out(tmp_path):
    cache = pl.Cache(tmp_path / "cache")
    other = sqlite3.connect(tmp_path / "cache" / "index.sqlite", isolation_level=None,
                            check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    released = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    released.start()
    try:
        assert cache.save(wl.key_for(3), wl.value_for(3))  # waits, then stores: no warning
    finally:
        released.join()
        other.close()
    assert cache.load(wl.key_for(3)) == wl.value_for(3)


def test_a_lock_that_is_never_released_gives_up_with_a_warning(tmp_path, monkeypatch):
    from pylearn_lab.cache import sqlite_index

    monkeypatch.setattr(sqlite_index, "_BUSY_TIMEOUT", 0.05)
    monkeypatch.setattr(sqlite_index, "_DEADLINE", 0.3)
    cache = pl.Cache(tmp_path / "cache")
    other = sqlite3.connect(tmp_path / "cache" / "index.sqlite", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.warns(CacheWarning, match="stayed locked"):
            assert not cache.save(wl.key_for(5), wl.value_for(5))
        assert not list((tmp_path / "cache" / "blobs").glob("*/*"))
    finally:
        other.execute("ROLLBACK")
        other.close()


# -- the repair command ----------------------------------------------------------------------
def test_pylearn_cache_verify_repairs_what_crashes_and_damage_leave(tmp_path):
    import subprocess
    import sys

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    from pylearn_lab.cache import set_default_cache

    root = tmp_path / "cache"
    cache = pl.Cache(root)
    for i in range(8):
        cache.save(wl.key_for(i), wl.value_for(i))
    cache.close()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    blobs = sorted(root.glob("blobs/*/*"))
    blobs[0].unlink()  # a row whose blob is gone
    _damage_blob(blobs[1], "flipped")  # a bad entry
    (root / "tmp" / f"x-{'0' * 12}.{dead}.abcd.tmp").write_bytes(b"half a blob")  # killed writer
    orphan = root / "blobs" / "ff" / f"{'f' * 32}-{'0' * 12}-{dead}-abcd"
    orphan.parent.mkdir(mode=0o700)
    orphan.write_bytes(b"blob without a row")  # killed between rename and insert

    cfg = Config()
    cfg.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=cfg)
    try:
        shell.run_line_magic("load_ext", "pylearn_lab")
        shell.run_line_magic("pylearn", f"cache {root}")
        with capture_output() as first:
            shell.run_line_magic("pylearn", "cache verify")
        with capture_output() as second:
            shell.run_line_magic("pylearn", "cache verify")
    finally:
        shell.run_line_magic("unload_ext", "pylearn_lab")
        InteractiveShell.clear_instance()
        set_default_cache(None)
    assert "repaired — 8 entries checked, 1 bad, 1 missing blobs, 2 orphan files" in first.stdout
    assert "cache verify: ok — 6 entries checked" in second.stdout
    assert not orphan.exists() and not list((root / "tmp").iterdir())


# -- issue 12 faults -------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_a_result_bigger_than_max_bytes_is_returned_not_stored_with_one_warning(
        tmp_path, calls, backend, figures):
    cache = pl.Cache(tmp_path / "cache", max_bytes="100KB")
    small = wl.big(str(calls), 1, 1_000)  # 8 kB: fits
    graph = [wl.big(str(calls), i, 40_000) for i in range(2, 5)] + [small]  # 320 kB each
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = pl.run(graph, cache=cache, backend=backend, progress=False)
    assert [float(v[0]) for v in out] == [2.0, 3.0, 4.0, 1.0]
    assert [v.shape for v in out] == [(40_000,)] * 3 + [(1_000,)]
    assert cache.contains(small) and not any(cache.contains(g) for g in graph[:3])
    # a worker process hands its warning back with the receipt: the notebook shows it, once
    msgs = [str(x.message) for x in w if issubclass(x.category, CacheWarning)]
    assert len(msgs) == 1 and "bigger than the cache's max_bytes" in msgs[0], msgs
    figures["faults_injected"] = figures.get("faults_injected", 0) + 1


def test_a_full_disk_at_cache_creation_runs_uncached_with_one_warning_and_no_leftovers(
        tmp_path, calls, figures):
    where = tmp_path / "new"
    with failing_writes(errno.ENOSPC, where), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = pl.run(_graph(calls, SIZES[:4]), cache=str(where / "cache"), progress=False)
    assert _values_right(out, SIZES[:4])
    msgs = [str(x.message) for x in w if issubclass(x.category, CacheWarning)]
    assert len(msgs) == 1 and "runs go on uncached" in msgs[0], msgs
    assert not where.exists() or not list(where.rglob("*")), list(where.rglob("*"))


def test_a_full_disk_while_making_the_user_key_leaves_no_temp_file(tmp_path, monkeypatch):
    from pylearn_lab.cache.keyring import user_key_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    key_dir = user_key_path().parent
    key_dir.mkdir(parents=True, mode=0o700)
    with failing_writes(errno.ENOSPC, key_dir), pytest.raises(pl.errors.CacheError,
                                                              match="Free some space"):
        pl.Cache(tmp_path / "cache")
    assert not list(key_dir.iterdir())


def test_a_read_only_index_in_a_writable_folder_is_a_read_only_cache(
        tmp_path, calls, monkeypatch, figures):
    path = tmp_path / "cache"
    _fill_half(path, calls)
    os.chmod(path / "index.sqlite", 0o400)
    if os.access(path / "index.sqlite", os.W_OK):  # root ignores modes: simulate the check
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m, **kw: False if (
            str(p).endswith("index.sqlite") and m & os.W_OK) else real(p, m, **kw))
    with pytest.warns(CacheWarning, match="index .* is read-only"):
        cache = pl.Cache(path)
    assert cache.store.read_only
    out = pl.run(_graph(calls), cache=cache, progress=False)
    assert _values_right(out)
    assert len(_computed(calls)) == 8 + len(SIZES) - 8  # the stored half was served
    figures["faults_injected"] = figures.get("faults_injected", 0) + 1


def test_repeated_failures_give_one_warning_per_cause_per_run(tmp_path, calls):
    cache = pl.Cache(tmp_path / "cache")
    for _ in range(2):  # and again in the next run
        with failing_writes(errno.ENOSPC, tmp_path / "cache"), \
                warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            pl.run(_graph(calls, SIZES * 4), cache=cache, progress=False, wait=True)
        msgs = [str(x.message) for x in w if issubclass(x.category, CacheWarning)]
        assert len(msgs) == 1 and "No space left" in msgs[0], msgs
        cache.clear()


def test_eviction_reads_only_what_it_drops(tmp_path):
    """Under the cap a save scans nothing; over it, about as many rows as it drops."""
    cache = pl.Cache(tmp_path / "cache", max_bytes=3_000_000)
    for i in range(2_000):
        cache.save(f"{i:032x}", i)
    statements: list[str] = []
    conn = cache.store.index._conn()
    conn.set_trace_callback(statements.append)
    cache.save("f" * 32, 1)
    assert not any("ORDER BY last_access" in s for s in statements)  # under the cap
    cache.max_bytes = cache.info().bytes - 1
    statements.clear()
    cache.save("e" * 32, 2)
    scans = [s for s in statements if "ORDER BY last_access" in s]
    assert scans and all("LIMIT" in s for s in scans)
    assert cache.info().bytes <= cache.max_bytes
