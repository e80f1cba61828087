"""Attacks by a real second Unix user who can write into the cache directory but does
not hold its owner's key.

As root, the fixture creates a throwaway user with ``useradd`` (removed at
teardown) and runs the attacker's steps as that user with ``setpriv --reuid
--regid --clear-groups``, using only the system's tools (``/usr/bin/python3``
without pylearn_lab, ``ln``, ``cp``). The owner -- this test process -- then
uses the cache. Skipped, naming why, when not root or the tools are missing.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import stat
import subprocess
import warnings

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.cache import CacheWarning
from pylearn_lab.cache.keyring import user_key_path
from pylearn_lab.cache.serialize import encode, layout
from pylearn_lab.cache.warn import new_run

from . import workloads as wl

PY = "/usr/bin/python3"


def _why_not() -> str:
    if os.geteuid() != 0:
        return "needs root to create a second user (useradd) or switch to one (setpriv)"
    for tool in ("useradd", "userdel", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not os.access(PY, os.X_OK):
        return f"{PY} is missing (the attacker's steps use the system Python)"
    return ""


pytestmark = pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "ok")


@pytest.fixture(scope="module")
def attacker():
    name = f"plx{secrets.token_hex(4)}"
    made = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                          capture_output=True, text=True)
    if made.returncode:
        pytest.skip(f"useradd failed: {made.stderr.strip()}")
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def run_as(user, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups",
           "--", *argv]
    out = subprocess.run(cmd, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin",
                                                                    "HOME": "/nonexistent"})
    if check and out.returncode:
        raise AssertionError(f"{argv} as {user.pw_name} failed: {out.stderr}")
    return out


def py_as(user, code: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_as(user, PY, "-c", code, check=check)


class Planted:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.fixture
def world(tmp_path):
    """Directories the second user can reach (pytest's temp dirs are private to root):
    every parent gets search permission for the test, and its mode back afterwards."""
    changed = []
    for p in [tmp_path, *tmp_path.parents]:
        mode = stat.S_IMODE(p.stat().st_mode)
        if not mode & 0o001:
            changed.append((p, mode))
            os.chmod(p, mode | 0o011 | (0o755 if p == tmp_path else 0))
    yield tmp_path
    for p, mode in changed:
        os.chmod(p, mode)


@pytest.fixture
def shared(world):
    """A cache of the owner's that the attacker can write (as in a group-writable cache)."""
    root = world / "cache"
    cache = pl.Cache(root)
    cache.save(wl.key_for(0), np.arange(20_000, dtype=np.float64))  # a blob
    cache.save(wl.key_for(1), 0.5, {"func": "m.fit", "params": {"lr": 0.1}})  # inline rows
    cache.save(wl.key_for(3), 0.7, {"func": "m.fit", "params": {"lr": 0.2}})
    cache.close()
    for p in [root, *root.rglob("*")]:
        os.chmod(p, 0o777 if p.is_dir() else 0o666)
    return root


@pytest.fixture
def marker(world):
    path = world / "UNPICKLED"
    yield path
    assert not path.exists(), "planted bytes were unpickled"


@pytest.fixture
def victim(world):
    d = world / "victim"
    d.mkdir()
    (d / "precious").write_text("keep me")
    yield d
    assert (d / "precious").read_text() == "keep me" and sorted(os.listdir(d)) == ["precious"]


def test_the_second_user_cannot_read_the_owners_key(attacker, shared):
    key = user_key_path()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    out = py_as(attacker, f"open({str(key)!r}, 'rb').read()", check=False)
    assert out.returncode and "Permission denied" in out.stderr


def test_symlinks_planted_by_the_second_user_are_never_followed(attacker, shared, victim):
    key = wl.key_for(0)
    blob = shared / "blobs" / key[:2] / key
    run_as(attacker, "rm", "-f", str(blob))
    run_as(attacker, "ln", "-s", str(victim / "precious"), str(blob))
    run_as(attacker, "ln", "-s", str(victim), str(shared / "blobs" / "zz"))
    run_as(attacker, "ln", "-s", str(victim / "precious"), str(shared / "tmp" / f"{key}.1.x.tmp"))
    cache = pl.Cache(shared)
    assert cache.lookup(key) == (False, None)
    report = cache.verify(repair=True)
    assert report.orphans >= 2
    cache.clear()
    assert not (shared / "blobs" / "zz").exists() and not (shared / "blobs" / "zz").is_symlink()


def test_a_row_edited_by_the_second_user_is_refused(attacker, shared):
    db = shared / "index.sqlite"
    py_as(attacker, "import sqlite3; c = sqlite3.connect(%r); "
          "c.execute(\"UPDATE entries SET summary = '{\\\"value\\\": 0.99}' WHERE params LIKE "
          "'%%0.1%%'\"); c.commit()" % str(db))
    cache = pl.Cache(shared)
    with pytest.warns(CacheWarning, match="do not verify"):
        recs = cache.records("m.fit")
    assert [r.params["lr"] for r in recs] == [0.2]  # best() can no longer be steered
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert cache.lookup(wl.key_for(1)) == (False, None)


def test_a_blob_forged_to_the_old_checksum_by_the_second_user_is_refused(
        attacker, shared, marker, world):
    key = wl.key_for(0)
    _, payload, xxh = encode({"w": np.zeros(20_000), "p": Planted(str(marker))})
    parts, size = layout({"kind": "pickle", "frames": [p.nbytes for p in payload[::2]],
                          "checksum": xxh}, payload)
    forged = world / "forged.bin"
    forged.write_bytes(b"".join(bytes(p) for p in parts))
    os.chmod(forged, 0o644)
    run_as(attacker, "cp", str(forged), str(shared / "blobs" / key[:2] / key))
    py_as(attacker, "import sqlite3; c = sqlite3.connect(%r); c.execute('UPDATE entries SET "
          "checksum = ?, size = ?, kind = ? WHERE key = ?', (%r, %d, 'pickle', %r)); c.commit()"
          % (str(shared / "index.sqlite"), xxh, size, key))
    cache = pl.Cache(shared)
    assert key in cache.verify(repair=False).bad
    with pytest.warns(CacheWarning):
        assert cache.lookup(key) == (False, None)


def test_a_committed_cache_of_the_second_user_is_untrusted(attacker, world, marker, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(world / "attacker-data"))
    repo = world / "repo" / ".pylearn"
    theirs = pl.Cache(repo)
    theirs.save(wl.key_for(2), Planted(str(marker)))
    theirs.close()
    monkeypatch.undo()
    subprocess.run(["chown", "-R", f"{attacker.pw_uid}:{attacker.pw_gid}", str(world / "repo")],
                   check=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        cache = pl.Cache(repo)
        assert cache.lookup(wl.key_for(2)) == (False, None)
    assert sum(issubclass(x.category, CacheWarning) for x in w) == 1
    assert not cache.trusted


def test_an_entry_replayed_by_the_second_user_is_refused(attacker, shared, world):
    key = wl.key_for(0)
    stash = world / "stash"
    stash.mkdir(mode=0o777)
    os.chmod(stash, 0o777)
    blob = shared / "blobs" / key[:2] / key
    py_as(attacker, "import sqlite3, shutil; c = sqlite3.connect(%r); "
          "row = c.execute('SELECT * FROM entries WHERE key = ?', (%r,)).fetchone(); "
          "open(%r, 'w').write(repr(row)); shutil.copy(%r, %r)"
          % (str(shared / "index.sqlite"), key, str(stash / "row"), str(blob), str(stash / "blob")))
    cache = pl.Cache(shared)
    assert cache.invalidate(key) == 1
    py_as(attacker, "import sqlite3, shutil; c = sqlite3.connect(%r); row = eval(open(%r).read()); "
          "c.execute('INSERT INTO entries VALUES (' + ','.join('?' * len(row)) + ')', row); "
          "c.commit(); shutil.copy(%r, %r)"
          % (str(shared / "index.sqlite"), str(stash / "row"), str(stash / "blob"), str(blob)))
    new_run()
    with pytest.warns(CacheWarning, match="deleted earlier and put back"):
        assert cache.lookup(key) == (False, None)


def test_a_key_or_marker_swapped_by_the_second_user_is_refused(attacker, shared, world):
    # the owner's key directory is private: the attacker cannot replace the key
    key = user_key_path()
    out = run_as(attacker, "cp", "/dev/null", str(key), check=False)
    assert out.returncode
    # a marker swapped for one bound to another key: the directory becomes untrusted
    other = world / "theirs"
    mk = f"{PY} -c \"import json; print(json.dumps({{'format': 2, 'cache_id': 'a' * 32, " \
         f"'key_id': 'b' * 16, 'tag': 'c' * 64}}))\" > {shared / 'pylearn-cache.json'}"
    run_as(attacker, "sh", "-c", f"rm -f {shared / 'pylearn-cache.json'} && {mk}")
    with pytest.warns(CacheWarning, match="another key"):
        assert not pl.Cache(shared).trusted
    # a team key file a member could write is refused
    team = world / "team"
    team.mkdir()
    tk = pl.cache.keyring.create_team_key(team / "k.key", group=attacker.pw_gid)
    os.chmod(tk, 0o660)
    with pytest.raises(pl.errors.CacheError, match="team key file"):
        pl.Cache(other, trust=tk)
    assert not other.exists()
