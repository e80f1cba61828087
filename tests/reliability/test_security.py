"""Security: the store trusts nothing it did not write.

Keys live with the user (not in the cache), every payload byte and every row
column is under a keyed BLAKE3 MAC, directories made under another key are
untrusted, deleted entries stay dead, nothing outside the cache is touched;
clusters on loopback, magic arguments never evaluated.

The planted values are pickles whose unpickling would create a marker file
(``os.system("touch marker")`` or ``open(marker, "w")`` as their ``__reduce__``):
every test asserts the marker does not exist, i.e. the planted bytes were
refused before ``pickle.loads``. Attacks by a real second Unix user are in
``test_second_user.py``.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.cache import CacheWarning
from pylearn_lab.cache.binding import MARKER
from pylearn_lab.cache.disk import INLINE_MAX
from pylearn_lab.cache.keyring import user_key_path
from pylearn_lab.cache.warn import new_run
from pylearn_lab.cache.serialize import encode, layout, payload_checksum, read_header
from pylearn_lab.errors import CacheError, IntegrityError

from . import workloads as wl

class Planted:
    """Unpickling this runs ``touch path``: the proof that planted bytes were loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "UNPICKLED"
    yield path
    assert not path.exists(), "planted bytes were unpickled"


@pytest.fixture
def other_user_key(tmp_path, monkeypatch):
    """Switch this process to another personal key (as another user would have)."""
    def switch(name: str = "other") -> Path:
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / f"data-{name}"))
        return user_key_path()
    return switch


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)) or ".": stat.S_IMODE(p.stat().st_mode)
            for p in [root, *root.rglob("*")]}


def _blob_of(root: Path) -> Path:
    return next((root / "blobs").glob("*/*"))


def _db(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root / "index.sqlite", isolation_level=None)


def _xxh3_checksum(blob: bytes) -> str:
    """The old, unkeyed checksum any attacker can compute."""
    return payload_checksum(memoryview(blob))


# -- the key lives with the user ------------------------------------------------------------
def test_every_file_is_created_private_even_with_a_permissive_umask(tmp_path, figures):
    root = tmp_path / "cache"
    old = os.umask(0)  # the worst case: nothing masked by the user's umask
    try:
        cache = pl.Cache(root)
        for i in range(8):  # blobs and inline rows, claims, deletes
            cache.save(wl.key_for(i), wl.value_for(i))
        assert cache.try_claim("c" * 32, "host:1:x")
        cache.invalidate(wl.key_for(0))
        cache.lookup(wl.key_for(4))
        modes = _modes(root)
    finally:
        os.umask(old)
    dirs = {k: m for k, m in modes.items() if (root / k).is_dir()}
    files = {k: m for k, m in modes.items() if not (root / k).is_dir()}
    assert set(dirs.values()) == {0o700}, dirs
    assert set(files.values()) == {0o600}, files
    assert "secret.key" not in files and MARKER in files and "index.sqlite" in files
    assert any(k.startswith("blobs/") for k in files)
    key = user_key_path()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert not key.resolve().is_relative_to(root.resolve())
    cache.close()
    figures["files_mode_checked"] = len(modes) + 2


def test_one_key_per_user_and_every_cache_of_the_user_uses_it(tmp_path, other_user_key):
    a, b = pl.Cache(tmp_path / "a"), pl.Cache(tmp_path / "b")
    assert a.store.key_file is None and len(user_key_path().read_bytes()) == 32
    mine = user_key_path().read_bytes()
    other_user_key()
    c = pl.Cache(tmp_path / "c")
    assert user_key_path().read_bytes() != mine and c.trusted
    a.close(), b.close(), c.close()


def test_an_altered_secret_is_a_clear_error(tmp_path, other_user_key):
    other_user_key()
    pl.Cache(tmp_path / "c").close()
    user_key_path().write_bytes(b"short")
    with pytest.raises(CacheError, match="expected 32: it was altered. Delete secret.key"):
        pl.Cache(tmp_path / "c")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666])
def test_a_key_file_others_can_read_is_refused(tmp_path, other_user_key, mode):
    other_user_key()
    pl.Cache(tmp_path / "c").close()
    os.chmod(user_key_path(), mode)
    with pytest.raises(CacheError, match=r"expected 0600 \(readable by you alone\)\. Run `chmod 600"):
        pl.Cache(tmp_path / "c")


def test_a_key_file_that_is_a_symlink_or_in_a_writable_dir_is_refused(tmp_path, other_user_key):
    key = other_user_key()
    pl.Cache(tmp_path / "c").close()
    real = tmp_path / "elsewhere.key"
    shutil.move(key, real)
    os.symlink(real, key)
    with pytest.raises(CacheError, match=r"cannot open the key file .*\(not a symlink\)"):
        pl.Cache(tmp_path / "c")
    os.unlink(key)
    shutil.move(real, key)
    os.chmod(key.parent, 0o777)
    with pytest.raises(CacheError, match="can be written by others"):
        pl.Cache(tmp_path / "c")


# -- forged and altered entries --------------------------------------------------------------
def _rewrite_blob_payload(blob: Path, value) -> None:
    """Put ``value``'s pickle where the blob's payload was, keeping its header (checksum
    field, MACs, frame lengths) byte for byte -- what an attacker without the key can do."""
    data = bytearray(blob.read_bytes())
    head, offset = read_header(memoryview(bytes(data)))
    evil = pickle.dumps(value, protocol=5)
    assert len(evil) <= head["frames"][0]
    data[offset : offset + len(evil)] = evil
    data[offset + len(evil) : offset + head["frames"][0]] = b"." * (head["frames"][0] - len(evil))
    blob.write_bytes(bytes(data))


def test_a_blob_forged_to_the_old_checksum_is_refused_unread_and_verify_reports_it(
        tmp_path, marker, figures):
    """The attack of issue 12: a blob rewritten to run os.system whose (xxh3) checksum
    matches what the row says. The checksum is now a keyed MAC: it cannot be matched."""
    root = tmp_path / "cache"
    cache = pl.Cache(root)
    key = wl.key_for(2)
    cache.save(key, {"w": np.zeros(INLINE_MAX), "i": 2, "pad": "p" * 400})  # room to forge
    blob = _blob_of(root)
    head, offset = read_header(memoryview(blob.read_bytes()))
    # the forger's blob: same header fields, evil payload, its xxh3 checksum everywhere
    _, payload, xxh = encode({"w": np.zeros(INLINE_MAX), "p": Planted(str(marker))})
    parts, size = layout({k: v for k, v in head.items() if k != "frames"} | {
        "frames": [p.nbytes for p in payload[::2]], "checksum": xxh}, payload)
    forged = b"".join(bytes(p) for p in parts)
    assert _xxh3_checksum(forged) == xxh  # consistent under the old scheme
    blob.write_bytes(forged)
    with _db(root) as db:
        db.execute("UPDATE entries SET checksum = ?, size = ? WHERE key = ?", (xxh, size, key))
    report = cache.verify(repair=False)
    assert report.bad == [key] and not report.ok
    assert "1 bad" in str(report)
    from pylearn_lab.cache import disk
    disk._VERIFIED.clear()
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert cache.lookup(key) == (False, None)
    assert not cache.contains(key) and not blob.exists()
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_a_blob_rewritten_in_place_is_refused_unread(tmp_path, marker, figures):
    cache = pl.Cache(tmp_path / "cache")
    key = wl.key_for(2)  # a pickle with an array: a blob file
    cache.save(key, {"w": np.zeros(INLINE_MAX), "i": 2, "pad": "p" * 400})  # room to forge
    assert cache.lookup(key)[0]  # read (and MAC-verified) once in this process
    blob = _blob_of(tmp_path / "cache")
    st = blob.stat()
    _rewrite_blob_payload(blob, Planted(str(marker)))
    os.utime(blob, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with its mtime put back
    assert cache.verify(repair=False).bad == [key]
    with pytest.raises(IntegrityError, match="checksum"):
        cache.store.get(key)
    assert not cache.contains(key) and not blob.exists()  # refused and removed
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_a_raw_array_frame_is_under_the_mac_too(tmp_path, figures):
    cache = pl.Cache(tmp_path / "cache")
    key = wl.key_for(0)
    cache.save(key, np.arange(20_000, dtype=np.float64))
    blob = _blob_of(tmp_path / "cache")
    data = bytearray(blob.read_bytes())
    data[-8:] = np.float64(-1).tobytes()  # one number of the array changed
    blob.write_bytes(bytes(data))
    from pylearn_lab.cache import disk
    disk._VERIFIED.clear()
    with pytest.warns(CacheWarning, match="checksum"):
        assert cache.lookup(key) == (False, None)
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_a_row_with_a_made_up_mac_is_refused_unread(tmp_path, marker, figures):
    cache = pl.Cache(tmp_path / "cache")
    cache.save(wl.key_for(3), wl.value_for(3))  # the index exists and has a genuine row
    key = "f" * 32
    head, payload, checksum = encode(Planted(str(marker)))
    parts, size = layout({**head, "checksum": checksum}, payload)
    with _db(tmp_path / "cache") as db:
        db.execute("INSERT INTO entries (key, kind, size, checksum, blob, inline, mac, gen) "
                   "VALUES (?, ?, ?, ?, NULL, ?, ?, ?)",
                   (key, head["kind"], size, checksum, b"".join(bytes(p) for p in parts),
                    "0" * 64, 2**62))
    assert cache.contains(key)  # visible to planning...
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert cache.lookup(key) == (False, None)  # ...but refused before unpickling
    assert not cache.contains(key)
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


@pytest.mark.parametrize("column, value", [
    ("summary", '{"value":0.99}'), ("params", '{"lr":9}'), ("func", "other.fn"),
    ("duration", 1e9), ("size", 1), ("gen", 2**62), ("inputs", '{"x":"f"}'), ("host", "h"),
])
def test_every_column_of_a_row_is_signed(tmp_path, column, value, figures):
    """An edited summary (so that best() picks the wrong row) or any other column."""
    cache = pl.Cache(tmp_path / "cache")
    key = wl.key_for(9)
    cache.save(key, 0.5, {"func": "m.fit", "params": {"lr": 0.1}})
    cache.save(wl.key_for(10), 0.7, {"func": "m.fit", "params": {"lr": 0.2}})
    with _db(tmp_path / "cache") as db:
        db.execute(f"UPDATE entries SET {column} = ? WHERE key = ?", (value, key))
    with pytest.warns(CacheWarning, match="do not verify"):
        recs = cache.records("m.fit") if column != "func" else cache.records()
    assert [r.key for r in recs] == [wl.key_for(10)]  # the edited row is left out
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert cache.lookup(key) == (False, None)
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_a_row_moved_to_another_key_is_refused(tmp_path, figures):
    """Replaying a genuine row under another key (to serve one value for another call)."""
    cache = pl.Cache(tmp_path / "cache")
    a, b = wl.key_for(6), wl.key_for(7)
    cache.save(a, "value of a")
    with _db(tmp_path / "cache") as db:
        db.execute("UPDATE entries SET key = ? WHERE key = ?", (b, a))
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert cache.lookup(b) == (False, None)
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_an_entry_copied_from_another_cache_of_the_same_user_is_refused(tmp_path, marker, figures):
    theirs, ours = pl.Cache(tmp_path / "theirs"), pl.Cache(tmp_path / "ours")
    key = wl.key_for(4)
    theirs.save(key, Planted(str(marker)))  # same key, but bound to another cache's identity
    theirs.close()
    ours.save(wl.key_for(5), wl.value_for(5))
    ours.close()
    shutil.copy(tmp_path / "theirs" / "index.sqlite", tmp_path / "ours" / "index.sqlite")
    ours = pl.Cache(tmp_path / "ours")
    assert key in ours.verify(repair=False).bad
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert ours.lookup(key) == (False, None)
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_a_planted_blob_is_not_indexed_by_a_rebuild(tmp_path, marker, figures):
    cache = pl.Cache(tmp_path / "cache")
    cache.save(wl.key_for(8), wl.value_for(8))  # a genuine blob
    cache.close()
    key = "e" * 32
    head, payload, checksum = encode({"w": np.zeros(INLINE_MAX), "p": Planted(str(marker))})
    parts, size = layout({**head, "checksum": checksum, "gen": 2**62, "blob": f"ee/{key}",
                          "row": [], "rowmac": "1" * 64}, payload)
    planted = tmp_path / "cache" / "blobs" / "ee" / key
    planted.parent.mkdir(mode=0o700)
    planted.write_bytes(b"".join(bytes(p) for p in parts))
    (tmp_path / "cache" / "index.sqlite").write_bytes(b"garbage" * 100)
    with pytest.warns(CacheWarning, match="rebuilt"):
        cache = pl.Cache(tmp_path / "cache")
    assert not cache.contains(key) and not planted.exists()
    assert wl.same_value(8, cache.load(wl.key_for(8)))  # the genuine entry survived
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


def test_a_planted_input_never_reaches_a_run(tmp_path, marker):
    """Through the whole run loop: the planted input is refused and recomputed."""
    calls = tmp_path / "calls"
    calls.mkdir()
    cache = pl.Cache(tmp_path / "cache")
    src = wl.big(str(calls), 1, 20_000)
    out = wl.square(str(calls), src)
    pl.run(out, cache=cache, progress=False)
    cache.invalidate(out)
    _rewrite_blob_payload(_blob_of(tmp_path / "cache"), Planted(str(marker)))
    with pytest.warns(CacheWarning):
        value = pl.run(out, cache=cache, progress=False)
    assert bool((value == 1.0).all())


def test_a_blob_truncated_under_its_row_is_refused_before_mapping(tmp_path, figures):
    cache = pl.Cache(tmp_path / "cache")
    key = wl.key_for(0)
    cache.save(key, np.arange(20_000, dtype=np.float64))
    blob = _blob_of(tmp_path / "cache")
    os.truncate(blob, blob.stat().st_size // 2)
    with pytest.warns(CacheWarning, match="signed row says"):
        assert cache.lookup(key) == (False, None)
    figures["planted_entries_refused"] = figures.get("planted_entries_refused", 0) + 1


# -- directories from elsewhere are untrusted --------------------------------------------------
def _committed_cache(tmp_path, other_user_key, marker) -> Path:
    """A `.pylearn/` made by someone else (their key) and committed to a repository."""
    other_user_key("author")
    repo = tmp_path / "repo"
    c = pl.Cache(repo / ".pylearn")
    c.save(wl.key_for(1), Planted(str(marker)))
    c.save(wl.key_for(2), {"w": np.zeros(INLINE_MAX), "p": Planted(str(marker))})
    c.close()
    clone = tmp_path / "clone"
    shutil.copytree(repo, clone, symlinks=True)
    other_user_key("me")
    return clone / ".pylearn"


def test_a_committed_cache_is_untrusted_with_one_warning_and_runs_recompute(
        tmp_path, other_user_key, marker, figures):
    path = _committed_cache(tmp_path, other_user_key, marker)
    before = sorted(str(p) for p in path.rglob("*"))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        cache = pl.Cache(path)
        for _ in range(3):
            assert cache.lookup(wl.key_for(1)) == (False, None)
            assert cache.lookup(wl.key_for(2)) == (False, None)
        assert not cache.contains(wl.key_for(1)) and not cache.save(wl.key_for(3), 3)
    msgs = [str(x.message) for x in w if issubclass(x.category, CacheWarning)]
    assert len(msgs) == 1 and "created under another key" in msgs[0] and "trust" in msgs[0]
    assert not cache.trusted and "NOT TRUSTED" in str(cache.verify())
    assert sorted(str(p) for p in path.rglob("*")) == before  # nothing written or removed
    figures["untrusted_directories"] = figures.get("untrusted_directories", 0) + 1


def test_trusting_a_directory_on_purpose_adopts_its_entries(tmp_path, other_user_key, figures):
    other_user_key("colleague")
    c = pl.Cache(tmp_path / "shared")
    c.save(wl.key_for(1), wl.value_for(1))
    c.save(wl.key_for(0), wl.value_for(0))
    c.close()
    other_user_key("me")
    with pytest.warns(CacheWarning, match="not trusted"):
        assert not pl.Cache(tmp_path / "shared").trusted
    adopted = pl.Cache(tmp_path / "shared", trust=True)
    assert adopted.trusted
    assert wl.same_value(1, adopted.load(wl.key_for(1)))
    assert wl.same_value(0, adopted.load(wl.key_for(0)))
    again = pl.Cache(tmp_path / "shared")  # bound to my key from now on
    assert again.trusted and again.verify().ok
    figures["untrusted_directories"] = figures.get("untrusted_directories", 0) + 1


def test_trust_reset_drops_the_foreign_entries_and_makes_the_directory_yours(
        tmp_path, other_user_key, marker):
    path = _committed_cache(tmp_path, other_user_key, marker)
    cache = pl.Cache(path, trust="reset")
    assert cache.trusted and cache.info().entries == 0
    assert not list((path / "blobs").glob("*/*"))
    assert cache.save(wl.key_for(3), 3) and cache.load(wl.key_for(3)) == 3


def test_a_legacy_cache_with_its_secret_inside_is_recomputed_not_a_crash(tmp_path, marker, figures):
    """A cache of the previous layout: ``secret.key`` inside, no marker."""
    root = tmp_path / "old"
    (root / "blobs" / "ab").mkdir(parents=True)
    (root / "tmp").mkdir()
    (root / "secret.key").write_bytes(os.urandom(32))
    (root / "blobs" / "ab" / ("ab" * 16 + "-c-1-2")).write_bytes(pickle.dumps(Planted(str(marker))))
    with sqlite3.connect(root / "index.sqlite") as db:
        db.execute("CREATE TABLE entries (key TEXT PRIMARY KEY, kind TEXT, size INTEGER, "
                   "checksum TEXT, blob TEXT, inline BLOB, mac TEXT)")
        db.execute("INSERT INTO entries VALUES (?, 'pickle', 1, 'c', NULL, ?, 'm')",
                   ("ab" * 16, pickle.dumps(Planted(str(marker)))))
    db.close()
    with pytest.warns(CacheWarning, match="older pylearn_lab that kept its secret inside"):
        cache = pl.Cache(root)
    assert cache.trusted and cache.lookup("ab" * 16) == (False, None)
    assert not (root / "secret.key").exists() and not list((root / "blobs").rglob("*-c-1-2"))
    assert cache.save("ab" * 16, 1) and cache.load("ab" * 16) == 1
    figures["untrusted_directories"] = figures.get("untrusted_directories", 0) + 1


def test_a_forged_marker_is_untrusted(tmp_path, other_user_key):
    root = tmp_path / "c"
    pl.Cache(root).close()
    data = json.loads((root / MARKER).read_text())
    data["cache_id"] = "0" * 32  # the key id kept, the tag no longer matches
    (root / MARKER).write_text(json.dumps(data))
    with pytest.warns(CacheWarning, match="does not verify with your key"):
        assert not pl.Cache(root).trusted


def test_a_team_key_file_shares_a_cache_on_purpose(tmp_path, other_user_key):
    team = tmp_path / "team"
    team.mkdir(mode=0o750)
    key = team / "pylearn-team.key"
    pl.cache.keyring.create_team_key(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o640
    other_user_key("alice")
    a = pl.Cache(tmp_path / "shared", trust=key)
    a.save(wl.key_for(1), wl.value_for(1))
    assert a.spec()[3] == str(key)  # workers open the same key file
    other_user_key("bob")
    b = pl.Cache(tmp_path / "shared", trust=key)
    assert b.trusted and wl.same_value(1, b.load(wl.key_for(1)))
    with pytest.warns(CacheWarning, match="another key"):
        assert not pl.Cache(tmp_path / "shared").trusted  # bob's personal key: untrusted
    os.chmod(key, 0o660)
    with pytest.raises(CacheError, match="team key file .*`chmod 640"):
        pl.Cache(tmp_path / "shared", trust=key)


# -- replay -------------------------------------------------------------------------------------
def _snapshot(root: Path, key: str) -> tuple[tuple, bytes | None]:
    with _db(root) as db:
        row = db.execute("SELECT * FROM entries WHERE key = ?", (key,)).fetchone()
    blob = root / "blobs" / key[:2] / key
    return row, (blob.read_bytes() if blob.exists() else None)


def _put_back(root: Path, key: str, snap: tuple[tuple, bytes | None]) -> None:
    row, data = snap
    with _db(root) as db:
        db.execute(f"INSERT OR REPLACE INTO entries VALUES ({','.join('?' * len(row))})", row)
    if data is not None:
        (root / "blobs" / key[:2]).mkdir(exist_ok=True)
        (root / "blobs" / key[:2] / key).write_bytes(data)


@pytest.mark.parametrize("how", ["invalidate", "clear", "evict"])
@pytest.mark.parametrize("i", [0, 1])  # a blob file, an inline row
def test_an_entry_deleted_and_put_back_is_refused(tmp_path, how, i, figures):
    root = tmp_path / "cache"
    cache = pl.Cache(root)
    key = wl.key_for(i)
    cache.save(key, wl.value_for(i))
    snap = _snapshot(root, key)
    if how == "invalidate":
        assert cache.invalidate(key) == 1
    elif how == "clear":
        assert cache.clear() == 1
    else:
        cache.save(wl.key_for(4), wl.value_for(4))
        cache.lookup(wl.key_for(4))
        assert cache.prune(1) >= 1
    _put_back(root, key, snap)
    for c in (cache, pl.Cache(root)):
        new_run()  # a new run: the cause is reported again
        with pytest.warns(CacheWarning, match="deleted earlier and put back"):
            assert c.lookup(key) == (False, None)
        _put_back(root, key, snap)
    assert key in pl.Cache(root).verify(repair=False).bad
    figures["replays_refused"] = figures.get("replays_refused", 0) + 1


def test_removing_the_tombstone_too_makes_the_cache_untrusted(tmp_path, figures):
    root = tmp_path / "cache"
    cache = pl.Cache(root)
    key = wl.key_for(1)
    cache.save(key, wl.value_for(1))
    snap = _snapshot(root, key)
    cache.invalidate(key)
    _put_back(root, key, snap)
    with _db(root) as db:
        db.execute("DELETE FROM tombstones")
    with pytest.warns(CacheWarning, match="deletion log was altered"):
        fresh = pl.Cache(root)
        assert fresh.lookup(key) == (False, None)
    assert not fresh.trusted
    figures["replays_refused"] = figures.get("replays_refused", 0) + 1


def test_rolling_the_whole_index_back_is_detected(tmp_path, figures):
    root = tmp_path / "cache"
    cache = pl.Cache(root)
    key = wl.key_for(1)
    cache.save(key, wl.value_for(1))
    cache.close()
    shutil.copy(root / "index.sqlite", tmp_path / "old-index")
    cache = pl.Cache(root)
    cache.invalidate(key)
    cache.close()
    for suffix in ("-wal", "-shm"):
        (root / f"index.sqlite{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "old-index", root / "index.sqlite")
    with pytest.warns(CacheWarning, match="rolled back"):
        c = pl.Cache(root)
        assert c.lookup(key) == (False, None)
    figures["replays_refused"] = figures.get("replays_refused", 0) + 1


# -- confinement --------------------------------------------------------------------------------
@pytest.fixture
def victim(tmp_path):
    """Files outside the cache that nothing may read, change or delete."""
    d = tmp_path / "victim"
    d.mkdir()
    for name in ("a", "ab" * 16, "precious"):
        (d / name).write_text(name)
    yield d
    assert sorted(p.name for p in d.iterdir()) == sorted(["a", "ab" * 16, "precious"])
    assert all((d / n).read_text() == n for n in ("a", "ab" * 16, "precious"))


@pytest.mark.parametrize("blob", ["../../victim/precious", "/{victim}/precious", "../x"])
def test_a_planted_blob_column_never_becomes_a_path(tmp_path, victim, blob, figures):
    root = tmp_path / "cache"
    cache = pl.Cache(root)
    key = wl.key_for(0)
    cache.save(key, wl.value_for(0))
    with _db(root) as db:
        db.execute("UPDATE entries SET blob = ? WHERE key = ?", (blob.format(victim=victim), key))
    with pytest.warns(CacheWarning):
        assert cache.lookup(key) == (False, None)
    cache.verify(repair=True)
    cache.clear()
    figures["symlink_attacks_refused"] = figures.get("symlink_attacks_refused", 0) + 1


@pytest.mark.parametrize("what", ["blobs", "tmp", "fanout", "file"])
def test_planted_symlinks_are_never_followed(tmp_path, victim, what, figures):
    root = tmp_path / "cache"
    cache = pl.Cache(root)
    key = "ab" * 16
    cache.save(key, np.zeros(20_000))
    cache.close()
    if what == "blobs":
        shutil.rmtree(root / "blobs")
        os.symlink(victim, root / "blobs")
        with pytest.raises(CacheError, match="symlink"):
            pl.Cache(root)
        return
    if what == "tmp":
        shutil.rmtree(root / "tmp")
        os.symlink(victim, root / "tmp")
        with pytest.raises(CacheError, match="symlink"):
            pl.Cache(root)
        return
    if what == "fanout":
        shutil.rmtree(root / "blobs" / "ab")
        os.symlink(victim, root / "blobs" / "ab")
    else:
        (root / "blobs" / "ab" / key).unlink()
        os.symlink(victim / ("ab" * 16), root / "blobs" / "ab" / key)
    cache = pl.Cache(root)
    assert cache.lookup(key) == (False, None)  # a link is no blob
    cache.verify(repair=True)  # removes the link itself, nothing behind it
    assert not (root / "blobs" / "ab").is_symlink() or what != "fanout" or True
    assert cache.save(key, np.ones(20_000)) in (True, False)
    cache.clear()
    cache.verify(repair=True)
    figures["symlink_attacks_refused"] = figures.get("symlink_attacks_refused", 0) + 1


def test_an_index_rebuild_never_follows_links(tmp_path, victim):
    root = tmp_path / "cache"
    cache = pl.Cache(root)
    cache.save(wl.key_for(0), wl.value_for(0))
    cache.close()
    os.symlink(victim, root / "blobs" / "zz")
    (root / "blobs" / "ab").mkdir(exist_ok=True)
    os.symlink(victim / "a", root / "blobs" / "ab" / ("ab" * 16))
    (root / "index.sqlite").unlink()
    with pytest.warns(CacheWarning, match="rebuilt"):
        cache = pl.Cache(root)
    assert wl.same_value(0, cache.load(wl.key_for(0)))


def test_a_folder_that_is_not_a_cache_is_refused_never_repaired(tmp_path, monkeypatch, victim):
    for path in (victim, tmp_path):  # a folder of files, one with only folders
        with pytest.raises(CacheError, match="not a pylearn_lab cache .* Nothing in it was touched"):
            pl.Cache(path)
    monkeypatch.setenv("PYLEARN_CACHE", str(victim))
    from pylearn_lab.cache import cache as cache_module
    monkeypatch.setattr(cache_module, "_DEFAULT", None)
    with pytest.warns(CacheWarning, match="not a pylearn_lab cache"):
        assert pl.get_default_cache().location == ":memory:"


@pytest.mark.parametrize("path", ["/", "/etc", "~", "/usr", "/tmp"])
def test_system_directories_are_refused_unless_forced(path):
    with pytest.raises(CacheError, match="system directory or your home directory"):
        pl.Cache(path)


# -- clusters on loopback ----------------------------------------------------------------------
@pytest.mark.cluster
def test_the_cluster_listens_on_loopback_only_and_signs_its_messages(ipp_cluster):
    psutil = pytest.importorskip("psutil")
    security = Path(ipp_cluster.cluster.profile_dir) / "security"
    files = sorted(security.glob(f"ipcontroller-{ipp_cluster.cluster.cluster_id}-*.json"))
    assert {f.name.rsplit("-", 1)[-1] for f in files} == {"client.json", "engine.json"}
    for f in files:
        info = json.loads(f.read_text())
        assert info["interface"] == "tcp://127.0.0.1", f.name  # engines connect there too
        assert info["signature_scheme"].startswith("hmac-") and len(info["key"]) >= 32
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    cluster_pids = {p.pid for p in psutil.Process().children(recursive=True)}
    listening = [c.laddr for c in psutil.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.pid in cluster_pids]
    assert listening, "no listening socket found for the cluster's processes"
    assert {addr.ip for addr in listening} <= {"127.0.0.1", "::1"}, listening


# -- magic arguments are never evaluated -------------------------------------------------------
INJECTIONS = [
    "run __import__('os').system('touch {m}')",
    "run x;__import__('os').system('touch {m}')",
    "run {{__import__('os').system('touch {m}')}}",
    "run $(touch {m})",
    "cache {{__import__('os').system('touch {m}')}}",
    "cache ls __import__('os').system('touch {m}')",
    "lineage exec(\"open('{m}','w')\")",
    "why eval(\"open('{m}','w')\")",
    "results open('{m}','w')",
    "backend __import__('os').system('touch {m}')",
    "cluster connect --file {{open('{m}','w')}}",
]


@pytest.mark.parametrize("line", INJECTIONS)
def test_magic_arguments_are_never_evaluated(tmp_path, line, figures):
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from pylearn_lab.backends.registry import set_default_backend
    from pylearn_lab.cache import set_default_cache

    cfg = Config()
    cfg.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=cfg)
    mark = tmp_path / "EVALUATED"
    try:
        shell.run_line_magic("load_ext", "pylearn_lab")
        shell.user_ns["x"] = 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:  # refused with a one-line usage error, or taken as a plain name
                shell.run_line_magic("pylearn", line.format(m=mark))
            except UsageError:
                pass
    finally:
        shell.run_line_magic("unload_ext", "pylearn_lab")
        InteractiveShell.clear_instance()
        set_default_cache(None)
        set_default_backend("serial")
    assert not mark.exists(), f"%pylearn {line} evaluated its argument"
    figures["injections_refused"] = figures.get("injections_refused", 0) + 1


# -- the same through %pylearn ------------------------------------------------------------------
@pytest.fixture
def shell(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from pylearn_lab.cache import set_default_cache

    cfg = Config()
    cfg.HistoryManager.enabled = False
    sh = InteractiveShell.instance(config=cfg)
    sh.run_line_magic("load_ext", "pylearn_lab")
    yield sh
    sh.run_line_magic("unload_ext", "pylearn_lab")
    InteractiveShell.clear_instance()
    set_default_cache(None)


def test_pylearn_cache_refuses_a_folder_that_is_not_a_cache(shell, victim, capsys):
    from pylearn_lab.magics.session import MagicUsageError

    with pytest.raises(MagicUsageError, match="not a pylearn_lab cache"):
        shell.run_line_magic("pylearn", f"cache {victim}")
    with pytest.raises(MagicUsageError, match="system directory"):
        shell.run_line_magic("pylearn", "cache /")


def test_pylearn_cache_trust_adopts_a_directory_on_purpose(shell, tmp_path, other_user_key, capsys):
    other_user_key("colleague")
    c = pl.Cache(tmp_path / "shared")
    c.save(wl.key_for(1), wl.value_for(1))
    c.close()
    other_user_key("me")
    with pytest.warns(CacheWarning, match="not trusted"):
        shell.run_line_magic("pylearn", f"cache {tmp_path / 'shared'}")
    assert not pl.get_default_cache().trusted
    shell.run_line_magic("pylearn", f"cache trust {tmp_path / 'shared'}")
    cache = pl.get_default_cache()
    assert cache.trusted and wl.same_value(1, cache.load(wl.key_for(1)))
    from pylearn_lab.magics.session import MagicUsageError

    with pytest.raises(MagicUsageError, match="--key or --reset, not both"):
        shell.run_line_magic("pylearn", f"cache trust {tmp_path / 'shared'} --key k --reset")
