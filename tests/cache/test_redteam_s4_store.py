"""Red team, session 4: an attacker who can write the cache directory but lacks the secret.

Each attack must end as a miss (recomputed, the counter proves it) or a clear
error: never a served value that differs from a fresh computation, never code
run by unpickling (the ``Planted`` marker file), never a hung process. The FIFO
attacks hung ``lookup()`` / ``pl.Cache()`` forever before ``open`` got
``O_NONBLOCK`` (found this session); the others pin what held.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.cache import CacheWarning
from pylearn_lab.cache.binding import MARKER
from pylearn_lab.cache.warn import new_run

RAN: list[str] = pl.untracked([])


class Planted:
    """Unpickling this creates ``path``: the proof that planted bytes were loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "UNPICKLED"
    yield path
    assert not path.exists(), "planted bytes were unpickled"


@pl.component
def filled(n: int, v: float) -> np.ndarray:
    RAN.append("filled")
    return np.full(n, v)


@pl.component
def label(i: int) -> str:
    RAN.append("label")
    return f"value-{i}"


def _db(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root / "index.sqlite", isolation_level=None)


def _blob(root: Path, key: str) -> Path:
    return root / "blobs" / key[:2] / key


def _within(seconds: float, fn):
    """``fn()``'s result, or fail the test if it blocks (a daemon thread is left behind)."""
    out: dict[str, object] = {}

    def go() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 -- re-raised in the test's thread
            out["error"] = exc

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"blocked for more than {seconds} s (a planted FIFO was opened?)"
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["value"]


@pytest.fixture
def cache(tmp_path):
    RAN.clear()
    new_run()
    return pl.Cache(tmp_path / "cache")


def test_two_blobs_of_equal_size_swapped_are_recomputed_not_served(cache, tmp_path):
    root = tmp_path / "cache"
    a, b = filled(20_000, 1.0), filled(20_000, 2.0)
    pl.run([a, b], cache=cache)
    assert len(RAN) == 2
    pa, pb = _blob(root, a.key), _blob(root, b.key)
    assert pa.stat().st_size == pb.stat().st_size
    da, db = pa.read_bytes(), pb.read_bytes()
    pa.write_bytes(db)
    pb.write_bytes(da)
    from pylearn_lab.cache import disk
    disk._VERIFIED.clear()  # as a fresh process would
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        va, vb = pl.run([a, b], cache=pl.Cache(root))
    assert np.array_equal(va, np.full(20_000, 1.0)) and np.array_equal(vb, np.full(20_000, 2.0))
    assert len(RAN) == 4, "both swapped blobs must be refused and recomputed"


def test_an_older_row_replayed_after_the_entry_was_replaced(cache, tmp_path):
    root = tmp_path / "cache"
    key = "c0" * 16
    cache.save(key, "old value")
    with _db(root) as db:
        old = db.execute("SELECT * FROM entries WHERE key = ?", (key,)).fetchone()
    cache.invalidate(key)
    cache.save(key, "new value")
    assert cache.lookup(key) == (True, "new value")
    with _db(root) as db:
        db.execute(f"INSERT OR REPLACE INTO entries VALUES ({','.join('?' * len(old))})", old)
    for c in (cache, pl.Cache(root)):
        new_run()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheWarning)
            hit, value = c.lookup(key)
        assert value != "old value" and (not hit or value == "new value")


def test_inline_payloads_swapped_between_two_signed_rows(cache, tmp_path, marker):
    root = tmp_path / "cache"
    k1, k2 = "d1" * 16, "d2" * 16
    cache.save(k1, "first")
    cache.save(k2, Planted(str(marker)))  # a genuine row of the attacker's choosing
    with _db(root) as db:
        rows = {k: db.execute("SELECT inline, checksum, size FROM entries WHERE key = ?",
                              (k,)).fetchone() for k in (k1, k2)}
        db.execute("UPDATE entries SET inline = ?, checksum = ?, size = ? WHERE key = ?",
                   (*rows[k2], k1))
    from pylearn_lab.cache import disk
    disk._VERIFIED.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        assert pl.Cache(root).lookup(k1) == (False, None)


def test_a_fifo_planted_as_a_blob_is_a_prompt_miss_then_recomputed(cache, tmp_path):
    root = tmp_path / "cache"
    e = filled(20_000, 3.0)
    pl.run(e, cache=cache)
    path = _blob(root, e.key)
    path.unlink()
    os.mkfifo(path)
    from pylearn_lab.cache import disk
    disk._VERIFIED.clear()
    fresh = pl.Cache(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        assert _within(10, lambda: fresh.lookup(e.key)) == (False, None)
        out = _within(30, lambda: pl.run(e, cache=fresh))
    assert np.array_equal(out, np.full(20_000, 3.0)) and len(RAN) == 2
    assert _within(10, lambda: fresh.verify(repair=True)).ok


def test_a_fifo_planted_as_the_marker_makes_the_cache_untrusted_not_hung(cache, tmp_path):
    root = tmp_path / "cache"
    pl.run(label(1), cache=cache)
    cache.close()
    (root / MARKER).unlink()
    os.mkfifo(root / MARKER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        other = _within(10, lambda: pl.Cache(root))
        assert not other.trusted
        assert _within(30, lambda: pl.run(label(1), cache=other)) == "value-1"
    assert len(RAN) == 2  # an untrusted cache serves nothing: recomputed


def test_a_fifo_in_tmp_and_in_a_blob_folder_survive_a_rebuild(cache, tmp_path):
    root = tmp_path / "cache"
    pl.run(label(2), cache=cache)
    cache.close()
    os.mkfifo(root / "tmp" / "planted.tmp")
    os.mkfifo(root / "blobs" / ("ee" * 16))
    (root / "index.sqlite").unlink()  # forces a rebuild that walks the folders
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        again = _within(10, lambda: pl.Cache(root))
        assert _within(10, lambda: again.verify(repair=True)) is not None
        assert _within(30, lambda: pl.run(label(2), cache=again)) == "value-2"


def test_a_blob_hard_linked_to_an_outside_file_is_never_written_through(cache, tmp_path):
    root = tmp_path / "cache"
    e = filled(20_000, 4.0)
    pl.run(e, cache=cache)
    outside = tmp_path / "victim.bin"
    path = _blob(root, e.key)
    outside.write_bytes(path.read_bytes())
    path.unlink()
    os.link(outside, path)  # the attacker's link: same bytes, an outside inode
    before = outside.read_bytes()
    assert np.array_equal(pl.run(e, cache=cache), np.full(20_000, 4.0))  # genuine bytes: fine
    cache.invalidate(e.key)
    pl.run(e, cache=cache)  # written again: a new file renamed in, never through the link
    cache.clear()
    cache.verify(repair=True)
    assert outside.exists() and outside.read_bytes() == before
