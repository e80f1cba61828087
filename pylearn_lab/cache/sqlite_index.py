"""The SQLite index behind :class:`~pylearn_lab.cache.disk.DiskStore`.

One connection per thread and process (SQLite connections must not cross
either), WAL journaling so readers never block the writer, a busy timeout plus
a bounded retry loop for the rare ``database is locked``, and triggers that
keep entry count and total size in one row (``max_bytes`` is checked on every
write without scanning). Hits do not write: last-access times are collected in
memory and flushed in batches.

Examples
--------
>>> import tempfile, pathlib
>>> ix = SqliteIndex(pathlib.Path(tempfile.mkdtemp()) / "index.sqlite")
>>> ix.insert("k" * 32, "pickle", 10, "c", None, b"x", "mac", {"func": "f"})
True
>>> ix.stats()
(1, 10)
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from ..errors import CacheCorruptError, CacheError
from .lru import pick_victims
from .records import (INSERT_COLS, JSON_COLS, REAL_COLS, RECORD_COLS, SIGNED_COLS, TEXT_COLS,
                      SignedRecord, entries_ddl, insert_checked, record_values)

__all__ = ["SqliteIndex", "IndexTxn", "INDEX_NAME", "SIGNED_COLS", "SignedRecord", "record_values"]

log = logging.getLogger(__name__)
T = TypeVar("T")

INDEX_NAME = "index.sqlite"
_SCHEMA_VERSION = "2"
# the one row schema lives with the Record (records.py); the names below are kept for
# the modules that import them from here
_JSON_COLS, _TEXT_COLS, _REAL_COLS, _RECORD_COLS = JSON_COLS, TEXT_COLS, REAL_COLS, RECORD_COLS

_SQL_TYPES = {"key": "TEXT PRIMARY KEY", "text!": "TEXT NOT NULL", "int!": "INTEGER NOT NULL",
              "text": "TEXT", "bytes": "BLOB", "gen": "INTEGER NOT NULL DEFAULT 0", "json": "TEXT",
              "real": "REAL", "int": "INTEGER"}
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS entries ({entries_ddl(_SQL_TYPES)});
CREATE INDEX IF NOT EXISTS entries_func ON entries(func);
CREATE INDEX IF NOT EXISTS entries_access ON entries(last_access);
CREATE TABLE IF NOT EXISTS stats (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER, bytes INTEGER);
INSERT OR IGNORE INTO stats VALUES (0, 0, 0);
CREATE TRIGGER IF NOT EXISTS entries_ins AFTER INSERT ON entries BEGIN
    UPDATE stats SET n = n + 1, bytes = bytes + NEW.size WHERE id = 0; END;
CREATE TRIGGER IF NOT EXISTS entries_del AFTER DELETE ON entries BEGIN
    UPDATE stats SET n = n - 1, bytes = bytes - OLD.size WHERE id = 0; END;
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS tombstones (key TEXT PRIMARY KEY, gen INTEGER NOT NULL);
"""
_SIGNED = ", ".join(f"e.{c}" for c in SIGNED_COLS)
_FETCH = (f"SELECT {_SIGNED}, e.inline, e.mac, "
          "(SELECT gen FROM tombstones WHERE key = ?) FROM entries e WHERE e.key = ?")
_ALL = (f"SELECT {_SIGNED}, e.inline, e.mac, t.gen FROM entries e "
        "LEFT JOIN tombstones t ON t.key = e.key")

_SERIALS = itertools.count(1)  # names connections in read stamps (ids can be reused)
_BUSY_TIMEOUT = 10.0  # seconds SQLite itself waits for a lock, per attempt
_DEADLINE = 30.0  # seconds in all before giving up: the caller warns and the run goes on


class IndexTxn(Protocol):
    """What the store may do inside an index write transaction (both indexes give it)."""

    def meta(self, name: str) -> str | None: ...
    def set_meta(self, name: str, value: str) -> None: ...
    def tomb(self, key: str) -> int | None: ...
    def set_tomb(self, key: str, gen: int) -> None: ...
    def alive(self, keys: list[str]) -> set[str]: ...
    def blob_keys(self) -> list[str]: ...


class _SqliteTxn:
    """:class:`IndexTxn` on one SQLite connection inside ``BEGIN IMMEDIATE``."""

    def __init__(self, c: sqlite3.Connection) -> None:
        self.c = c

    def meta(self, name: str) -> str | None:
        row = self.c.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, name: str, value: str) -> None:
        self.c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def tomb(self, key: str) -> int | None:
        row = self.c.execute("SELECT gen FROM tombstones WHERE key = ?", (key,)).fetchone()
        return None if row is None else int(row[0])

    def set_tomb(self, key: str, gen: int) -> None:
        self.c.execute("INSERT OR REPLACE INTO tombstones VALUES (?, ?)", (key, gen))

    def alive(self, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            found.update(k for (k,) in self.c.execute(
                f"SELECT key FROM entries WHERE key IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def blob_keys(self) -> list[str]:
        return [k for (k,) in self.c.execute("SELECT key FROM entries WHERE blob IS NOT NULL")]


class SqliteIndex:
    """Index rows of a disk store (see the module docstring).

    Parameters
    ----------
    path : Path
        The SQLite file.
    read_only : bool
        Open without writing (a read-only cache directory still serves hits).
    on_corrupt : callable, optional
        ``on_corrupt(path)`` rebuilds a corrupt index; without it a corrupt
        index raises :class:`~pylearn_lab.errors.CacheCorruptError`.
    group : bool
        A team cache of several Unix users: a new index file is ``0660`` (SQLite
        gives its ``-wal``/``-shm`` files the same mode), not ``0600``.
    """

    def __init__(self, path: Path, read_only: bool = False,
                 on_corrupt: Callable[[Path], None] | None = None, group: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self.group = group
        self._local = threading.local()
        self._pending: dict[str, float] = {}
        self._pending_lock = threading.Lock()
        self._last_flush = time.monotonic()
        try:
            self._init_schema()
        except (sqlite3.DatabaseError, CacheCorruptError) as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            if on_corrupt is None or read_only:
                raise CacheCorruptError(
                    f"the cache index {path} cannot be read ({exc}). Repair it with "
                    "pylearn_lab.Cache(path).verify(repair=True) after moving the file aside, "
                    "or delete the cache directory."
                ) from None
            self._local = threading.local()
            on_corrupt(path)
            self._init_schema()

    # -- connections ----------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        if self.read_only:
            conn = self._connect_read_only()
        else:
            existed = self.path.exists()
            conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT, isolation_level=None,
                                   check_same_thread=False)
            if not existed:
                os.chmod(self.path, 0o660 if self.group else 0o600)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        self._local.conn, self._local.pid = conn, os.getpid()
        self._local.serial = next(_SERIALS)
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """A connection that never writes (read-only cache directory)."""
        if not self.path.exists():
            # A read-only directory that never held a cache: an empty index, so every
            # lookup misses and nothing is created.
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            conn.executescript(_SCHEMA)
            return conn
        uri = f"file:{quote(str(self.path))}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            pass
        # A WAL index needs its -shm file, which SQLite cannot create in a directory nobody
        # can write, so mode=ro alone fails there. Nobody can change the file either, so
        # reading it as immutable is exact (entries only in an unmerged -wal read as misses).
        return sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None,
                               check_same_thread=False)

    def _retry(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        delay = 0.005
        give_up = time.monotonic() + _DEADLINE
        while True:
            try:
                return fn(self._conn())
            except sqlite3.OperationalError as exc:
                msg = str(exc)
                if "readonly" in msg or "read-only" in msg:
                    raise CacheError(f"the cache index {self.path} is read-only: {msg}") from None
                if "locked" not in msg and "busy" not in msg:
                    raise
                if time.monotonic() >= give_up:
                    raise CacheError(
                        f"the cache index {self.path} stayed locked for {_DEADLINE:g} s ({msg}): "
                        "another process holds a write transaction on it. This operation was "
                        "given up (a result being stored is not cached); close that process's "
                        "connection if it is stuck."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
            except sqlite3.DatabaseError as exc:
                if type(exc) is not sqlite3.DatabaseError:
                    raise  # constraint or programming errors are bugs, not a damaged file
                # SQLITE_CORRUPT / SQLITE_NOTADB: damage found after opening (e.g. one page)
                raise CacheCorruptError(
                    f"the cache index {self.path} is damaged ({exc}). Entries it cannot read "
                    f"are recomputed; repair it with pylearn_lab.Cache({str(self.path.parent)!r})"
                    ".verify() (or %pylearn cache verify), which rebuilds it from the blob files."
                ) from None

    def _init_schema(self) -> None:
        def init(c: sqlite3.Connection) -> None:
            if self.read_only:
                c.execute("SELECT count(*) FROM entries").fetchone()
                return
            c.executescript(_SCHEMA)
            c.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
            c.execute("SELECT count(*) FROM entries").fetchone()
            row = c.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            if row is None or row[0] != _SCHEMA_VERSION:
                raise CacheCorruptError(f"index schema {row and row[0]!r}, expected {_SCHEMA_VERSION}")

        self._retry(init)

    # -- reads ----------------------------------------------------------------------
    def fetch(self, key: str) -> tuple[Any, ...] | None:
        """``(signed columns..., inline, mac, tombstone gen or None)`` of ``key``, or None.

        One statement in autocommit (no transaction for a read); the retry loop is
        entered only when SQLite reports a problem.
        """
        try:
            return self._conn().execute(_FETCH, (key, key)).fetchone()  # type: ignore[no-any-return]
        except sqlite3.Error:
            return self._retry(lambda c: c.execute(_FETCH, (key, key)).fetchone())

    def read_stamp(self) -> tuple[int, int, int]:
        """What changes whenever the index may have changed, as this thread sees it.

        ``(connection serial, rows this connection changed, PRAGMA data_version)``:
        ``data_version`` moves when another connection commits (another process or
        thread), ``total_changes`` when this one writes. Two equal stamps mean no
        write happened in between (:mod:`~pylearn_lab.cache.memo` relies on it).
        """
        local = self._local
        c = getattr(local, "conn", None)
        if c is None or local.pid != os.getpid():
            c = self._conn()
        try:
            (version,) = c.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            (version,) = self._retry(lambda c: c.execute("PRAGMA data_version").fetchone())
            c = self._conn()
        return (local.serial, c.total_changes, version)

    def present(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` have rows (batched, for planning big graphs)."""
        keys = list(keys)
        found: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            q = f"SELECT key FROM entries WHERE key IN ({','.join('?' * len(chunk))})"
            found.update(r[0] for r in self._retry(lambda c: c.execute(q, chunk).fetchall()))
        return found

    def blob_of(self, key: str) -> str | None:
        row = self._retry(lambda c: c.execute("SELECT blob FROM entries WHERE key = ?", (key,)).fetchone())
        return row[0] if row else None

    def blobs_of(self, keys: list[str]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            q = f"SELECT blob FROM entries WHERE blob IS NOT NULL AND key IN ({','.join('?' * len(chunk))})"
            out += [r[0] for r in self._retry(lambda c: c.execute(q, chunk).fetchall())]
        return out

    def stats(self) -> tuple[int, int]:
        row = self._retry(lambda c: c.execute("SELECT n, bytes FROM stats WHERE id = 0").fetchone())
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def records(self, func: str | None = None, keys: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Record rows as dicts (JSON columns decoded), oldest first."""
        self.flush()
        cols = ", ".join(_RECORD_COLS)
        if keys is not None:
            keys = list(keys)
            rows: list[Any] = []
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                q = f"SELECT {cols} FROM entries WHERE key IN ({','.join('?' * len(chunk))})"
                rows += self._retry(lambda c: c.execute(q, chunk).fetchall())
        elif func is not None:
            rows = self._retry(lambda c: c.execute(
                f"SELECT {cols} FROM entries WHERE func = ? ORDER BY created", (func,)).fetchall())
        else:
            rows = self._retry(lambda c: c.execute(f"SELECT {cols} FROM entries ORDER BY created").fetchall())
        for row in rows:
            rec = dict(zip(_RECORD_COLS, row))
            for col in _JSON_COLS:
                rec[col] = json.loads(rec[col]) if rec[col] else {}
            yield rec

    def keys(self) -> list[str]:
        """Every stored key."""
        return [r[0] for r in self._retry(lambda c: c.execute("SELECT key FROM entries").fetchall())]

    def blob_names(self) -> list[str]:
        return [r[0] for r in self._retry(lambda c: c.execute(
            "SELECT blob FROM entries WHERE blob IS NOT NULL").fetchall())]

    def all_rows(self) -> list[tuple[Any, ...]]:
        """Every row as :meth:`fetch` gives it."""
        return self._retry(lambda c: c.execute(_ALL).fetchall())

    def signed_rows(self, func: str | None = None,
                    keys: list[str] | None = None) -> list[tuple[Any, ...]]:
        """``(signed columns..., last_access, mac, tombstone gen)`` rows, oldest first
        (of function ``func``, or of ``keys``, or all)."""
        base = (f"SELECT {_SIGNED}, e.last_access, e.mac, t.gen FROM entries e "
                "LEFT JOIN tombstones t ON t.key = e.key")
        if keys is not None:
            rows: list[tuple[Any, ...]] = []
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                q = f"{base} WHERE e.key IN ({','.join('?' * len(chunk))}) ORDER BY e.created"
                rows += self._retry(lambda c: c.execute(q, chunk).fetchall())
            return rows
        if func is not None:
            return self._retry(lambda c: c.execute(
                f"{base} WHERE e.func = ? ORDER BY e.created", (func,)).fetchall())
        return self._retry(lambda c: c.execute(f"{base} ORDER BY e.created").fetchall())

    # -- the deletion log (replay protection) --------------------------------------------
    def tombstones(self) -> list[tuple[str, int]]:
        return self._retry(lambda c: c.execute("SELECT key, gen FROM tombstones").fetchall())

    def deletion_log(self) -> tuple[str | None, list[tuple[str, int]]]:
        """The signed log summary and the tombstones, read in one snapshot: a deletion
        committed by another process between two separate reads would make them disagree,
        and the cache look tampered with."""
        def read(c: sqlite3.Connection) -> tuple[str | None, list[tuple[str, int]]]:
            c.execute("BEGIN")  # deferred: a read transaction sees one WAL snapshot
            try:
                row = c.execute("SELECT value FROM meta WHERE name = 'tombs'").fetchone()
                tombs = c.execute("SELECT key, gen FROM tombstones").fetchall()
            finally:
                c.execute("COMMIT")
            return (None if row is None else row[0]), tombs

        return self._retry(read)

    def meta_get(self, name: str) -> str | None:
        row = self._retry(lambda c: c.execute(
            "SELECT value FROM meta WHERE name = ?", (name,)).fetchone())
        return None if row is None else row[0]

    def meta_set(self, name: str, value: str) -> None:
        self._retry(lambda c: c.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value)))

    # -- writes ---------------------------------------------------------------------
    def locked(self, fn: Callable[["IndexTxn"], T]) -> T:
        """Run ``fn(txn)`` in one write transaction: no writer publishes meanwhile."""
        return self._txn(lambda c: fn(_SqliteTxn(c)))

    def _txn(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one write transaction (retried whole when the index is busy)."""
        def run(c: sqlite3.Connection) -> T:
            c.execute("BEGIN IMMEDIATE")
            try:
                out = fn(c)
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
            return out

        return self._retry(run)

    def insert(self, key: str, kind: str, size: int, checksum: str, blob: str | None,
               inline: bytes | None, mac: str, record: dict[str, Any], gen: int = 0,
               publish: Callable[[], None] | None = None) -> bool:
        """Insert a row unless ``key`` exists; True when this call inserted it.

        ``publish`` (renaming the blob into place) runs inside the write
        transaction, after the checks: the file under a key's name is always the
        one its committed row describes, and a key deleted after ``gen`` began
        (its tombstone is newer) is not stored at all.
        """
        row = (key, kind, size, checksum, blob, inline, mac, record, gen, publish)
        return self._txn(lambda c: _insert_row(c, row, time.time()))

    def insert_many(self, rows: list[tuple[Any, ...]]) -> set[str]:
        """:meth:`insert` for many ``(key, kind, size, checksum, blob, inline, mac, record,
        gen, publish)`` rows in ONE write transaction; the keys inserted now.

        Each row gets exactly :meth:`insert`'s checks (present, deleted after its
        generation began) and its ``publish`` runs inside the transaction. A row
        whose ``publish`` fails with an ``OSError`` (its temp file vanished) is
        skipped, not inserted; the others commit. One transaction per batch is what
        lets a client index the receipts of thousands of tiny nodes a second.
        """
        def txn(c: sqlite3.Connection) -> set[str]:
            # the checks of _insert_row, asked for the whole batch at once (two queries
            # per 500 keys, not two per row), then one executemany
            now = time.time()
            keys = [row[0] for row in rows]
            present: set[str] = set()
            tombs: dict[str, int] = {}
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                present.update(k for (k,) in c.execute(
                    f"SELECT key FROM entries WHERE key IN ({marks})", chunk))
                tombs.update(c.execute(
                    f"SELECT key, gen FROM tombstones WHERE key IN ({marks})", chunk))
            done: set[str] = set()
            values = []
            for key, kind, size, checksum, blob, inline, mac, record, gen, publish in rows:
                tomb = tombs.get(key)
                if key in present or key in done or (tomb is not None and tomb >= gen):
                    continue
                if publish is not None:
                    try:
                        publish()
                    except OSError as exc:
                        log.warning("entry %s not stored: its file could not be published "
                                    "(%s)", str(key)[:12], exc)
                        continue
                values.append((key, kind, size, checksum, blob, inline, mac, gen,
                               *record_values(record, now), now))
                done.add(key)
            c.executemany(_INSERT, values)
            return done

        return self._txn(txn) if rows else set()

    def insert_signed(self, signed: list[Any], inline: bytes | None, mac: str) -> bool:
        """Insert a row given as its signed columns (``SIGNED_COLS`` order), e.g. rebuilt
        from a blob header."""
        cols = ", ".join(SIGNED_COLS)
        sql = (f"INSERT OR IGNORE INTO entries ({cols}, inline, mac, last_access) "
               f"VALUES ({','.join('?' * (len(SIGNED_COLS) + 3))})")
        values = (*signed, inline, mac, time.time())
        return bool(self._retry(lambda c: c.execute(sql, values).rowcount))

    def resign(self, key: str, checksum: str, mac: str) -> None:
        """Replace one row's payload MAC and row MAC (adopting a directory)."""
        self._retry(lambda c: c.execute(
            "UPDATE entries SET checksum = ?, mac = ? WHERE key = ?", (checksum, mac, key)))

    def delete(self, keys: Iterable[str]) -> int:
        return self.take(keys)[0]

    def delete_row(self, key: str, mac: str) -> bool:
        """Delete ``key``'s row only if it is still the one signed ``mac``."""
        return bool(self._retry(lambda c: c.execute(
            "DELETE FROM entries WHERE key = ? AND mac = ?", (key, mac)).rowcount))

    def take(self, keys: Iterable[str],
             on_delete: Callable[["IndexTxn", list[tuple[str, str | None]]], None]
             | None = None) -> tuple[int, list[str]]:
        """Delete the rows of ``keys``; returns ``(rows deleted, their blob names)``.

        ``on_delete(txn, [(key, blob), ...])`` runs inside the same transaction
        (the store writes tombstones and removes the files there), so a blob a
        concurrent writer publishes meanwhile is neither removed nor orphaned.
        """
        keys = list(keys)
        n, blobs = 0, []
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))

            def txn(c: sqlite3.Connection, chunk: list[str] = chunk,
                    marks: str = marks) -> tuple[int, list[str]]:
                rows = c.execute(f"SELECT key, blob FROM entries WHERE key IN ({marks})",
                                 chunk).fetchall()
                c.execute(f"DELETE FROM entries WHERE key IN ({marks})", chunk)
                if on_delete is not None and rows:
                    on_delete(_SqliteTxn(c), rows)
                return len(rows), [b for _, b in rows if b]

            done, names = self._txn(txn)
            n += done
            blobs += names
        return n, blobs

    def lru_victims(self, max_bytes: int, target: int | None = None) -> list[str]:
        """Least recently used keys to drop so that at most ``target`` (default
        ``max_bytes``) remain, or nothing when ``max_bytes`` is not exceeded.

        Reads only as many rows as it drops, in ``last_access`` order through its
        index: a save under the cap never scans the table.
        """
        _, total = self.stats()
        if total <= max_bytes:
            return []
        self.flush()
        goal = max_bytes if target is None else min(target, max_bytes)
        return pick_victims(total, goal, lambda n, off: self._retry(lambda c: c.execute(
            "SELECT key, size FROM entries ORDER BY last_access LIMIT ? OFFSET ?", (n, off)).fetchall()))

    def touch(self, key: str) -> None:
        """Note a hit; flushed in batches (a hit should not cost a write)."""
        now = time.time()
        with self._pending_lock:
            self._pending[key] = now
            due = len(self._pending) >= 256 or time.monotonic() - self._last_flush > 2.0
        if due:
            self.flush()

    def flush(self) -> None:
        """Write pending last-access times."""
        with self._pending_lock:
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        if not pending or self.read_only:
            return
        try:
            self._retry(lambda c: c.executemany(
                "UPDATE entries SET last_access = ? WHERE key = ?",
                [(t, k) for k, t in pending.items()]))
        except (sqlite3.Error, CacheError) as exc:  # bookkeeping only: never fail a hit
            log.debug("could not record cache access times: %s", exc)

    # -- claims (single flight) -------------------------------------------------------
    def try_claim(self, key: str, owner: str, ttl: float) -> bool:
        now = time.time()

        def claim(c: sqlite3.Connection) -> bool:
            cur = c.execute(
                "INSERT INTO claims VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                "owner = excluded.owner, expires = excluded.expires "
                "WHERE claims.owner = excluded.owner OR claims.expires < ?",
                (key, owner, now + ttl, now))
            return bool(cur.rowcount)

        return self._retry(claim)

    def try_claim_many(self, keys: list[str], owner: str, ttl: float) -> set[str]:
        """Claim several keys in one write transaction; returns those now ours."""
        now = time.time()

        def claim(c: sqlite3.Connection) -> set[str]:
            got: set[str] = set()
            c.execute("BEGIN IMMEDIATE")
            try:
                # one statement for all keys, then: ours are those whose claim names us now.
                # Inside this write transaction that is exactly the keys the statement
                # inserted or updated (a claim of ours is always renewed, another live
                # owner's never touched), without a Python round trip per key.
                c.executemany(
                    "INSERT INTO claims VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "owner = excluded.owner, expires = excluded.expires "
                    "WHERE claims.owner = excluded.owner OR claims.expires < ?",
                    [(key, owner, now + ttl, now) for key in keys])
                for i in range(0, len(keys), 500):
                    chunk = keys[i:i + 500]
                    marks = ",".join("?" * len(chunk))
                    got.update(k for (k,) in c.execute(
                        f"SELECT key FROM claims WHERE owner = ? AND key IN ({marks})",
                        [owner, *chunk]))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            return got

        return self._retry(claim)

    def release_many(self, keys: list[str], owner: str) -> None:
        """Give several claims back in one write transaction."""
        def release(c: sqlite3.Connection) -> None:
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany("DELETE FROM claims WHERE key = ? AND owner = ?",
                              [(k, owner) for k in keys])
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

        self._retry(release)

    def take_over(self, key: str, owner: str, ttl: float, stale: str) -> bool:
        """Move the claim on ``key`` from ``stale`` (a dead owner) to ``owner``; True if done."""
        return bool(self._retry(lambda c: c.execute(
            "UPDATE claims SET owner = ?, expires = ? WHERE key = ? AND owner = ?",
            (owner, time.time() + ttl, key, stale)).rowcount))

    def release(self, key: str, owner: str) -> None:
        self._retry(lambda c: c.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner)))

    def claim_owner(self, key: str) -> str | None:
        row = self._retry(lambda c: c.execute(
            "SELECT owner FROM claims WHERE key = ? AND expires >= ?", (key, time.time())).fetchone())
        return row[0] if row else None

    def close(self) -> None:
        self.flush()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


_INSERT = (f"INSERT INTO entries ({', '.join(INSERT_COLS)}) "
           f"VALUES ({','.join('?' * len(INSERT_COLS))})")


def _insert_row(c: sqlite3.Connection, row: tuple[Any, ...], now: float) -> bool:
    """One row of :meth:`insert` inside an open write transaction."""
    return insert_checked(c.execute, row, now, present=_PRESENT, tomb=_TOMB, insert=_INSERT)


_PRESENT = "SELECT 1 FROM entries WHERE key = ?"
_TOMB = "SELECT gen FROM tombstones WHERE key = ?"
