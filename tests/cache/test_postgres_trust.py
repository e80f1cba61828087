"""A team cache's trust model on PostgreSQL: signed rows, the deletion log, the team key.

The same attacks as ``tests/reliability/test_security.py`` makes on SQLite, made on the
database: someone who can write the rows (every team member can) but does not hold the
team key tries to put deleted entries back, to remove the tombstones that keep them
dead, to roll the whole index back, or to forge rows. Each is refused. And several
users -- processes with different personal keys -- share entries through the team key
file, while a process without it neither reads nor writes them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.cache import CacheWarning
from pylearn_lab.cache.keyring import create_team_key
from pylearn_lab.cache.warn import new_run

psycopg = pytest.importorskip("psycopg")

K = "7" * 32


@pytest.fixture
def team(pg_server, tmp_path):
    """``team()`` opens the team cache (a database, a blob directory, a team key file)."""
    db = pg_server.new_database()
    (tmp_path / "keys").mkdir(mode=0o750)
    key = create_team_key(tmp_path / "keys" / "team.key")
    blobs = tmp_path / "blobs"

    def open_(**kw):
        return pl.Cache(db, blobs=blobs, trust=kw.pop("trust", key), **kw)

    open_.db, open_.key, open_.blobs = db, key, blobs  # type: ignore[attr-defined]
    return open_


def _sql(db: str, statement: str, *args):
    with psycopg.connect(db, autocommit=True) as conn:
        cur = conn.execute(statement, args)
        return cur.fetchall() if cur.description else None


def _snapshot(team, key: str):
    row = _sql(team.db, "SELECT * FROM pylearn_entries WHERE key = %s", key)[0]
    blob = team.blobs / "blobs" / key[:2] / key
    return row, (blob.read_bytes() if blob.exists() else None)


def _put_back(team, key: str, snap) -> None:
    row, data = snap
    _sql(team.db, "DELETE FROM pylearn_entries WHERE key = %s", key)
    _sql(team.db, f"INSERT INTO pylearn_entries VALUES ({', '.join(['%s'] * len(row))})", *row)
    if data is not None:
        (team.blobs / "blobs" / key[:2]).mkdir(exist_ok=True)
        (team.blobs / "blobs" / key[:2] / key).write_bytes(data)


@pytest.mark.parametrize("how", ["invalidate", "clear", "evict"])
@pytest.mark.parametrize("size", [10, 100_000])  # an inline row, a blob file
def test_an_entry_deleted_and_put_back_is_refused(team, how, size) -> None:
    cache = team()
    value = np.arange(size, dtype=np.float64)
    assert cache.save(K, value)
    snap = _snapshot(team, K)
    if how == "invalidate":
        assert cache.invalidate(K) == 1
    elif how == "clear":
        assert cache.clear() == 1
    else:
        cache.save("8" * 32, np.ones(10))
        cache.lookup("8" * 32)
        assert cache.prune(1) >= 1
    assert _sql(team.db, "SELECT count(*) FROM pylearn_tombstones WHERE key = %s", K) == [(1,)]
    _put_back(team, K, snap)
    assert team().verify(repair=False).bad == [K]
    for c in (cache, team()):
        new_run()  # a new run: the cause is reported again
        with pytest.warns(CacheWarning, match="deleted earlier and put back"):
            assert c.lookup(K) == (False, None)
        _put_back(team, K, snap)


def test_removing_the_tombstones_too_makes_the_team_cache_untrusted(team) -> None:
    cache = team()
    cache.save(K, 1)
    snap = _snapshot(team, K)
    cache.invalidate(K)
    _put_back(team, K, snap)
    _sql(team.db, "DELETE FROM pylearn_tombstones")
    with pytest.warns(CacheWarning, match="deletion log was altered"):
        fresh = team()
        assert fresh.lookup(K) == (False, None)
    assert not fresh.trusted and not fresh.save("9" * 32, 2)  # nothing stored either


def test_rolling_the_database_back_is_detected(team) -> None:
    cache = team()
    cache.save(K, 1)
    tables = ("pylearn_entries", "pylearn_tombstones", "pylearn_meta")
    old = {t: _sql(team.db, f"SELECT * FROM {t}") for t in tables}
    cache.invalidate(K)
    cache.close()
    for t in tables:  # the whole index as it was: consistent, validly signed, but older
        _sql(team.db, f"DELETE FROM {t}")
        for row in old[t]:
            _sql(team.db, f"INSERT INTO {t} VALUES ({', '.join(['%s'] * len(row))})", *row)
    with pytest.warns(CacheWarning, match="rolled back"):
        c = team()
        assert c.lookup(K) == (False, None)


@pytest.mark.parametrize("column, value", [("created", 1.0), ("func", "evil.f"),
                                           ("gen", 2**62), ("mac", "0" * 64)])
def test_an_edited_row_is_refused_unread(team, column, value) -> None:
    cache = team()
    cache.save(K, {"v": 1}, {"func": "m.f"})
    _sql(team.db, f"UPDATE pylearn_entries SET {column} = %s", value)
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert team().lookup(K) == (False, None)
    assert _sql(team.db, "SELECT count(*) FROM pylearn_entries") == [(0,)]  # removed


def test_a_database_of_another_blob_directory_is_refused_with_the_cause(team, tmp_path) -> None:
    team().save(K, 1)
    with pytest.warns(CacheWarning, match="holds the index of another cache"):
        other = pl.Cache(team.db, blobs=tmp_path / "elsewhere", trust=team.key)
    assert not other.trusted and other.lookup(K) == (False, None)
    assert team().lookup(K) == (True, 1)  # the real one is untouched


def test_a_reset_team_cache_drops_its_rows_in_the_database(team) -> None:
    team().save(K, 1)
    with pytest.warns(CacheWarning, match="another key"):
        mine = pl.Cache(team.db, blobs=team.blobs)  # my personal key: untrusted
    assert not mine.trusted and mine.lookup(K) == (False, None)
    reset = pl.Cache(team.db, blobs=team.blobs, trust="reset")
    assert reset.trusted and reset.lookup(K) == (False, None)
    assert _sql(team.db, "SELECT count(*) FROM pylearn_entries") == [(0,)]
    assert reset.save(K, 2) and pl.Cache(team.db, blobs=team.blobs).lookup(K) == (True, 2)


_USER = textwrap.dedent("""
    import sys, numpy as np, pylearn_lab as pl
    db, blobs, key, action = sys.argv[1:5]
    cache = pl.Cache(db, blobs=blobs, trust=None if key == "-" else key)
    K = "7" * 32
    if action == "write":
        print(cache.save(K, np.arange(50_000.0)))
    else:
        hit, v = cache.lookup(K)
        print(hit, cache.trusted, None if v is None else float(v.sum()))
""")


def test_two_users_share_entries_through_the_team_key_file(team, tmp_path) -> None:
    """Processes with different personal keys (XDG_DATA_HOME: two users) share one team
    cache through the team key file; one holding only its personal key is refused."""
    def user(name: str, key: str, action: str) -> str:
        env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / f"home-{name}")}
        proc = subprocess.run([sys.executable, "-c", _USER, team.db, str(team.blobs), key,
                               action], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    team()  # the team's first member made the directory
    assert user("ann", str(team.key), "write") == "True"
    assert user("bob", str(team.key), "read") == f"True True {float(np.arange(50_000.0).sum())}"
    assert user("eve", "-", "read") == "False False None"  # no team key: untrusted, a miss
    assert team().lookup(K)[0]  # eve's visit removed nothing


def test_a_database_of_the_old_schema_is_upgraded_and_its_unsigned_rows_never_hit(team) -> None:
    """Schema 1 (before signed rows): no generation column, no tombstones. Opening it adds
    them; its rows carry no valid MAC under the new model, so they miss and are removed."""
    team().save(K, 1)
    _sql(team.db, "ALTER TABLE pylearn_entries DROP COLUMN gen")
    _sql(team.db, "DROP TABLE pylearn_tombstones")
    _sql(team.db, "UPDATE pylearn_meta SET value = '1' WHERE name = 'schema'")
    _sql(team.db, "UPDATE pylearn_entries SET mac = 'old-secret-mac'")
    cache = team()
    assert _sql(team.db, "SELECT value FROM pylearn_meta WHERE name = 'schema'") == [("2",)]
    with pytest.warns(CacheWarning, match="no valid signature"):
        assert cache.lookup(K) == (False, None)
    assert cache.save(K, 2) and team().lookup(K) == (True, 2)
    _sql(team.db, "UPDATE pylearn_meta SET value = '9' WHERE name = 'schema'")
    from pylearn_lab.errors import CacheError
    with pytest.raises(CacheError, match="has schema '9'.*upgrade pylearn_lab"):
        team()


# -- a real second Unix user of the team's group ------------------------------------------------
_MEMBER = textwrap.dedent("""
    import sys, numpy as np, pylearn_lab as pl
    db, blobs, key, action = sys.argv[1:5]
    trust = None if key == "-" else key
    cache = pl.Cache(blobs, trust=trust) if db == "-" else pl.Cache(db, blobs=blobs, trust=trust)
    if action == "read":
        out = []
        for k in ("7" * 32, "6" * 32):
            hit, v = cache.lookup(k)
            out.append(f"{hit}:{None if v is None else float(np.asarray(v).sum())}")
        print(cache.trusted, *out)
    else:
        print(cache.save("5" * 32, np.full(30_000, 2.0)), cache.save("4" * 32, 3))
""")


def _member_why_not() -> str:
    import shutil

    if os.geteuid() != 0:
        return "needs root to create a group member (useradd) and switch to it (setpriv)"
    missing = [t for t in ("useradd", "userdel", "groupadd", "groupdel", "setpriv")
               if shutil.which(t) is None]
    if missing or not os.access("/usr/bin/python3", os.X_OK):
        return f"missing {missing or '/usr/bin/python3'}"
    if sys.version_info[:2] != tuple(int(x) for x in subprocess.run(
            ["/usr/bin/python3", "-c", "import sys; print(sys.version_info[0], "
             "sys.version_info[1])"], capture_output=True, text=True).stdout.split()):
        return "the system Python is another minor version than the test venv's packages"
    return ""


@pytest.fixture
def member(tmp_path):
    """A throwaway Unix user in a throwaway group (removed at teardown); the tmp dirs get
    search permission for it (pytest's are private to root) and their modes back after."""
    import grp
    import pwd
    import secrets
    import stat

    why = _member_why_not()
    if why:
        pytest.skip(why)
    name = f"plm{secrets.token_hex(3)}"
    if subprocess.run(["groupadd", name], capture_output=True).returncode:
        pytest.skip("groupadd failed")
    if subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "-g", name,
                       name], capture_output=True).returncode:
        subprocess.run(["groupdel", name], capture_output=True)
        pytest.skip("useradd failed")
    changed = []
    for p in [tmp_path, *tmp_path.parents]:
        mode = stat.S_IMODE(p.stat().st_mode)
        if not mode & 0o001:
            changed.append((p, mode))
            os.chmod(p, mode | 0o001)
    try:
        yield pwd.getpwnam(name), grp.getgrnam(name)
    finally:
        for p, mode in changed:
            os.chmod(p, mode)
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)


@pytest.mark.parametrize("index", ["postgres", "sqlite"])
def test_two_unix_users_of_one_group_share_a_team_cache(request, tmp_path, member,
                                                         index) -> None:
    """The team model for real: the team key file is 0640 to the group, the blob directory
    2770 to the group (as docs/team.md sets them up); one member (this process) and
    another Unix user each read what the other wrote; without the key file it is a miss.
    With a PostgreSQL index, and with a directory cache's own SQLite index (one host)."""
    user, group = member
    db = request.getfixturevalue("pg_server").new_database() if index == "postgres" else "-"

    def open_cache(**kw):
        return pl.Cache(blobs, **kw) if db == "-" else pl.Cache(db, blobs=blobs, **kw)

    keys = tmp_path / "keys"
    keys.mkdir()
    os.chown(keys, -1, group.gr_gid)
    os.chmod(keys, 0o750)
    key = create_team_key(keys / "team.key", group=group.gr_gid)
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    os.chown(blobs, -1, group.gr_gid)
    os.chmod(blobs, 0o2770)
    home = tmp_path / "home-b"
    home.mkdir(mode=0o700)
    os.chown(home, user.pw_uid, user.pw_gid)

    ann = open_cache(trust=key)
    assert ann.save("7" * 32, np.arange(50_000.0)) and ann.save("6" * 32, 1.5)

    def bob(action: str, key_arg: str) -> str:
        env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "XDG_DATA_HOME": str(home),
               "PYTHONPATH": os.pathsep.join(
                   [str(Path(pl.__file__).parents[1]), *[p for p in sys.path if "site-packages" in p]])}
        proc = subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={group.gr_gid}",
                               f"--groups={group.gr_gid}", "--", "/usr/bin/python3", "-c",
                               _MEMBER, db, str(blobs), key_arg, action],
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    total = float(np.arange(50_000.0).sum())
    assert bob("read", str(key)) == f"True True:{total} True:1.5"
    assert bob("write", str(key)) == "True True"
    assert ann.lookup("4" * 32) == (True, 3)
    hit, v = open_cache(trust=key).lookup("5" * 32)
    assert hit and float(v.sum()) == 60_000.0
    # files a member writes stay readable by the group, never by others
    for p in (blobs / "blobs").rglob("*"):
        mode = p.stat().st_mode & 0o7777
        assert mode in (0o640, 0o2770), (p, oct(mode))
    if db == "-":
        assert (blobs / "index.sqlite").stat().st_mode & 0o777 == 0o660
    # bob without the team key: his personal key -- untrusted, misses, nothing written
    assert bob("read", "-") == "False False:None False:None"


def test_adopting_a_team_cache_resigns_its_rows_in_the_database(team) -> None:
    """trust=True: I vouch for the entries of a cache made under another key; they are
    re-signed with mine, in the database, and stay mine when it is opened again."""
    team().save(K, 1)
    team().save("6" * 32, np.arange(20_000.0))
    adopted = pl.Cache(team.db, blobs=team.blobs, trust=True)  # my personal key
    assert adopted.trusted and adopted.lookup(K) == (True, 1)
    again = pl.Cache(team.db, blobs=team.blobs)
    assert again.trusted and again.lookup(K) == (True, 1) and again.lookup("6" * 32)[0]
    with pytest.warns(CacheWarning, match="another key"):
        assert not team().trusted  # the old team key no longer signs this cache
