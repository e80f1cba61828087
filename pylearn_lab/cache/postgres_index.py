"""A PostgreSQL index for a team cache: many clients, workers and hosts, one database.

SQLite is the embedded default, but its WAL needs every writer on one kernel,
so it cannot be shared by several login nodes over NFS. This index keeps the
*same rows* in PostgreSQL (psycopg 3) and has the interface of
:class:`~pylearn_lab.cache.sqlite_index.SqliteIndex`, so a
:class:`~pylearn_lab.cache.disk.DiskStore` uses it unchanged: blobs and the
signed marker stay in a shared directory, rows (each signed with the team key,
which lives in a key file, not in the directory or the database) live in the
database, with the tombstones and the signed deletion-log summary that refuse
replayed entries exactly as on SQLite. Anyone who can write the database but
holds no key can make entries miss, never make a forged one hit.

* **Rows** -- one table ``pylearn_entries`` with the SQLite index's columns
  (derived from its column lists, so a column added there appears here), a
  ``pylearn_stats`` row kept by *statement*-level triggers (count and bytes
  without a scan; one update per statement, so a bulk insert does not rewrite
  the counter row once per entry).
* **Single flight across hosts** -- a claim is one atomic upsert,
  ``INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE owner = me OR expired``,
  which takes PostgreSQL's row lock: of two hosts claiming one key at once
  exactly one gets it. Expiry uses the *server's* clock, so hosts whose clocks
  disagree still agree on when a claim lapsed.
* **Connections** -- one per thread and process (autocommit; statements are
  prepared by psycopg after a few uses), reconnected once when the server
  dropped them; an unreachable server is a :class:`~pylearn_lab.errors.CacheError`
  naming the address (never the password).

Examples
--------
>>> masked_url("postgresql://ann:secret@db.lab:5433/results")
'postgresql://ann@db.lab:5433/results'
>>> is_database_url("postgresql://db/x"), is_database_url("/scratch/cache")
(True, False)
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..errors import CacheError
from .lru import pick_victims
from .records import (INSERT_COLS, JSON_COLS, RECORD_COLS, SIGNED_COLS, entries_ddl,
                      insert_checked)

__all__ = ["PostgresIndex", "is_database_url", "masked_url"]

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMES = ("postgresql://", "postgres://")
_CHUNK = 10_000  # keys per ANY(%s) query
_NOW = "extract(epoch from clock_timestamp())"

# The one entries schema (records.py), typed for PostgreSQL (JSON columns stay JSON
# text: the same rows as SQLite's).
_SQL_TYPES = {"key": "TEXT PRIMARY KEY", "text!": "TEXT NOT NULL", "int!": "BIGINT NOT NULL",
              "text": "TEXT", "bytes": "BYTEA", "gen": "BIGINT NOT NULL DEFAULT 0", "json": "TEXT",
              "real": "DOUBLE PRECISION", "int": "BIGINT"}
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS pylearn_entries ({entries_ddl(_SQL_TYPES)});
CREATE INDEX IF NOT EXISTS pylearn_entries_func ON pylearn_entries(func);
CREATE INDEX IF NOT EXISTS pylearn_entries_access ON pylearn_entries(last_access);
CREATE TABLE IF NOT EXISTS pylearn_stats (id INTEGER PRIMARY KEY CHECK (id = 0),
                                          n BIGINT NOT NULL, bytes BIGINT NOT NULL);
INSERT INTO pylearn_stats VALUES (0, 0, 0) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION pylearn_count_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE pylearn_stats s SET n = s.n + d.dn, bytes = s.bytes + d.db
    FROM (SELECT count(*) AS dn, coalesce(sum(size), 0) AS db FROM new_rows) d WHERE s.id = 0;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION pylearn_count_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE pylearn_stats s SET n = s.n - d.dn, bytes = s.bytes - d.db
    FROM (SELECT count(*) AS dn, coalesce(sum(size), 0) AS db FROM old_rows) d WHERE s.id = 0;
  RETURN NULL;
END $$;
CREATE TRIGGER pylearn_entries_ins AFTER INSERT ON pylearn_entries
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION pylearn_count_ins();
CREATE TRIGGER pylearn_entries_del AFTER DELETE ON pylearn_entries
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION pylearn_count_del();
CREATE TABLE IF NOT EXISTS pylearn_claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL,
                                           expires DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS pylearn_meta (name TEXT PRIMARY KEY, value TEXT);
INSERT INTO pylearn_meta VALUES ('schema', '1') ON CONFLICT DO NOTHING;
"""
# Schema 2 (signed rows, the deletion log): applied to new and schema-1 databases alike.
# Rows of schema 1 carry no generation and no valid row MAC: they read as misses and
# are removed (the blob directory of such a cache is a legacy one and is reset anyway).
_SCHEMA_2 = """
ALTER TABLE pylearn_entries ADD COLUMN IF NOT EXISTS gen BIGINT NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS pylearn_tombstones (key TEXT PRIMARY KEY, gen BIGINT NOT NULL);
UPDATE pylearn_meta SET value = '2' WHERE name = 'schema';
"""
_SCHEMA_VERSION = "2"
_SCHEMA_LOCK = 0x70796C6561726E  # advisory lock id: two first clients create tables in turn
# The write lock: every transaction that writes entries, tombstones or the deletion-log
# summary -- or publishes / removes a blob file -- holds it, as SQLite's BEGIN IMMEDIATE
# does. So a key's blob file is always the one its committed row describes, a store
# started before a deletion never lands after it, and the signed summary is updated by
# one deleter at a time. Cost: writes of the whole team are serialised (each is short: a
# rename and one row); reads and claims never take it.
_WRITE_LOCK = 0x70796C6C77726974
_INSERT_COLS = INSERT_COLS
_SIGNED = ", ".join(f"e.{c}" for c in SIGNED_COLS)
_ROWS = (f"SELECT {_SIGNED}, e.inline, e.mac, t.gen FROM pylearn_entries e "
         "LEFT JOIN pylearn_tombstones t ON t.key = e.key")
_SIGNED_ROWS = (f"SELECT {_SIGNED}, e.last_access, e.mac, t.gen FROM pylearn_entries e "
                "LEFT JOIN pylearn_tombstones t ON t.key = e.key")
_CLAIM = ("INSERT INTO pylearn_claims AS c (key, owner, expires) "
          f"SELECT k, %(owner)s, {_NOW} + %(ttl)s FROM unnest(%(keys)s::text[]) AS k "
          "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires = excluded.expires "
          f"WHERE c.owner = excluded.owner OR c.expires < {_NOW} RETURNING c.key")


class _PgTxn:
    """:class:`~pylearn_lab.cache.sqlite_index.IndexTxn` on a connection holding the write lock."""

    def __init__(self, c: Any) -> None:
        self.c = c

    def meta(self, name: str) -> str | None:
        row = self.c.execute("SELECT value FROM pylearn_meta WHERE name = %s", (name,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, name: str, value: str) -> None:
        self.c.execute("INSERT INTO pylearn_meta VALUES (%s, %s) ON CONFLICT (name) "
                       "DO UPDATE SET value = excluded.value", (name, value))

    def tomb(self, key: str) -> int | None:
        row = self.c.execute("SELECT gen FROM pylearn_tombstones WHERE key = %s",
                             (key,)).fetchone()
        return None if row is None else int(row[0])

    def set_tomb(self, key: str, gen: int) -> None:
        self.c.execute("INSERT INTO pylearn_tombstones VALUES (%s, %s) ON CONFLICT (key) "
                       "DO UPDATE SET gen = excluded.gen", (key, gen))

    def alive(self, keys: list[str]) -> set[str]:
        return {k for (k,) in self.c.execute(
            "SELECT key FROM pylearn_entries WHERE key = ANY(%s)", (list(keys),)).fetchall()}

    def blob_keys(self) -> list[str]:
        return [k for (k,) in self.c.execute(
            "SELECT key FROM pylearn_entries WHERE blob IS NOT NULL").fetchall()]


def is_database_url(where: Any) -> bool:
    """True for ``postgresql://...`` (or ``postgres://...``) strings."""
    return isinstance(where, str) and where.startswith(SCHEMES)


def masked_url(url: str) -> str:
    """``url`` without its password (for messages, reprs and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise CacheError(
            f"a PostgreSQL cache needs psycopg 3, which is not installed ({exc}). Install the "
            "extra: pip install 'pylearn_lab[postgres]' (or pip install 'psycopg[binary]')."
        ) from None
    return psycopg


_LIVE: "weakref.WeakSet[PostgresIndex]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # flush access times and end sessions cleanly (the server logs abandoned ones)
    for ix in list(_LIVE):
        try:
            ix.close()
        except Exception:
            pass


class PostgresIndex:
    """Index rows of a team cache in PostgreSQL (see the module docstring).

    Parameters
    ----------
    url : str
        A libpq URL, ``postgresql://user@host:port/db``. Leave the password out
        of it and let libpq find it (``~/.pgpass``, ``PGPASSWORD``): the URL
        travels to workers with their tasks.
    connect_timeout : float
        Seconds to wait for the server before :class:`CacheError`.
    """

    read_only = False

    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.path = masked_url(url)  # what messages name (SqliteIndex has a file path here)
        self.connect_timeout = connect_timeout
        self._pg = _psycopg()
        self._local = threading.local()
        self._all: list[tuple[int, Any]] = []
        self._all_lock = threading.Lock()
        self._pending: dict[str, float] = {}
        self._pending_lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._init_schema()
        _LIVE.add(self)

    # -- connections ----------------------------------------------------------------
    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid() and not conn.closed:
            return conn
        try:
            conn = self._pg.connect(self.url, autocommit=True,
                                    connect_timeout=max(1, int(self.connect_timeout)),
                                    application_name="pylearn_lab")
        except self._pg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise CacheError(
                f"cannot reach the PostgreSQL cache index at {self.path}: {reason}. Is the "
                "server running and reachable from this host? Check the URL (user, host, port, "
                "database) and the password (~/.pgpass or PGPASSWORD), or use a directory cache."
            ) from None
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._all_lock:
            self._all.append((os.getpid(), conn))
        return conn

    def _retry(self, fn: Callable[[Any], T]) -> T:
        for attempt in (0, 1):
            conn = self._conn()
            try:
                return fn(conn)
            except self._pg.OperationalError as exc:
                # a server restart or a dropped connection: reconnect once, then give up
                self._local.conn = None
                try:
                    conn.close()
                except Exception:
                    pass
                if attempt:
                    raise CacheError(f"the PostgreSQL cache index at {self.path} failed: "
                                     f"{exc}".strip()) from None
        raise AssertionError("unreachable")

    def _init_schema(self) -> None:
        def init(c: Any) -> None:
            with c.transaction():
                c.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                exists = c.execute("SELECT to_regclass('pylearn_meta') IS NOT NULL").fetchone()[0]
                if not exists:
                    c.execute(_SCHEMA)
                row = c.execute("SELECT value FROM pylearn_meta WHERE name = 'schema'").fetchone()
                if row is not None and row[0] == "1":
                    c.execute(_SCHEMA_2)
                    row = (_SCHEMA_VERSION,)
                if row is None or row[0] != _SCHEMA_VERSION:
                    raise CacheError(
                        f"the PostgreSQL cache index at {self.path} has schema {row and row[0]!r}, "
                        f"this pylearn_lab reads schema {_SCHEMA_VERSION}: upgrade pylearn_lab "
                        "(a newer version made it) or give the cache another database.")

        self._retry(init)

    # -- reads ----------------------------------------------------------------------
    def fetch(self, key: str) -> tuple[Any, ...] | None:
        """``(signed columns..., inline, mac, tombstone gen or None)`` of ``key``, or None."""
        row = self._retry(lambda c: c.execute(f"{_ROWS} WHERE e.key = %s", (key,)).fetchone())
        return None if row is None else tuple(row)

    def present(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` have rows (one query per 10,000 keys)."""
        keys = list(keys)
        found: set[str] = set()
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            found.update(r[0] for r in self._retry(lambda c: c.execute(
                "SELECT key FROM pylearn_entries WHERE key = ANY(%s)", (chunk,)).fetchall()))
        return found

    def blob_of(self, key: str) -> str | None:
        row = self._retry(lambda c: c.execute(
            "SELECT blob FROM pylearn_entries WHERE key = %s", (key,)).fetchone())
        return row[0] if row else None

    def blobs_of(self, keys: list[str]) -> list[str]:
        return [r[0] for r in self._retry(lambda c: c.execute(
            "SELECT blob FROM pylearn_entries WHERE blob IS NOT NULL AND key = ANY(%s)",
            (list(keys),)).fetchall())]

    def stats(self) -> tuple[int, int]:
        row = self._retry(lambda c: c.execute(
            "SELECT n, bytes FROM pylearn_stats WHERE id = 0").fetchone())
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def records(self, func: str | None = None,
                keys: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Record rows as dicts (JSON columns decoded), oldest first."""
        self.flush()
        cols = ", ".join(RECORD_COLS)
        q = f"SELECT {cols} FROM pylearn_entries"
        if keys is not None:
            keys = list(keys)
            rows: list[Any] = []
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                rows += self._retry(lambda c: c.execute(f"{q} WHERE key = ANY(%s)",
                                                        (chunk,)).fetchall())
        elif func is not None:
            rows = self._retry(lambda c: c.execute(f"{q} WHERE func = %s ORDER BY created",
                                                   (func,)).fetchall())
        else:
            rows = self._retry(lambda c: c.execute(f"{q} ORDER BY created").fetchall())
        for row in rows:
            rec = dict(zip(RECORD_COLS, row))
            for col in JSON_COLS:
                rec[col] = json.loads(rec[col]) if rec[col] else {}
            yield rec

    def keys(self) -> list[str]:
        """Every stored key."""
        return [r[0] for r in self._retry(lambda c: c.execute(
            "SELECT key FROM pylearn_entries").fetchall())]

    def blob_names(self) -> list[str]:
        return [r[0] for r in self._retry(lambda c: c.execute(
            "SELECT blob FROM pylearn_entries WHERE blob IS NOT NULL").fetchall())]

    def all_rows(self) -> list[tuple[Any, ...]]:
        """Every row as :meth:`fetch` gives it."""
        return [tuple(r) for r in self._retry(lambda c: c.execute(_ROWS).fetchall())]

    def signed_rows(self, func: str | None = None,
                    keys: list[str] | None = None) -> list[tuple[Any, ...]]:
        """``(signed columns..., last_access, mac, tombstone gen)`` rows, oldest first
        (of function ``func``, or of ``keys``, or all)."""
        if keys is not None:
            rows: list[Any] = []
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                rows += self._retry(lambda c: c.execute(
                    f"{_SIGNED_ROWS} WHERE e.key = ANY(%s) ORDER BY e.created", (chunk,)).fetchall())
        elif func is not None:
            rows = self._retry(lambda c: c.execute(
                f"{_SIGNED_ROWS} WHERE e.func = %s ORDER BY e.created", (func,)).fetchall())
        else:
            rows = self._retry(lambda c: c.execute(f"{_SIGNED_ROWS} ORDER BY e.created").fetchall())
        return [tuple(r) for r in rows]

    # -- the deletion log (replay protection) --------------------------------------------
    def tombstones(self) -> list[tuple[str, int]]:
        return [(k, int(g)) for k, g in self._retry(lambda c: c.execute(
            "SELECT key, gen FROM pylearn_tombstones").fetchall())]

    def deletion_log(self) -> tuple[str | None, list[tuple[str, int]]]:
        """The signed log summary and the tombstones, read under the team's write lock
        (no deletion can land between the two reads)."""
        def read(c: Any) -> tuple[str | None, list[tuple[str, int]]]:
            row = c.execute("SELECT value FROM pylearn_meta WHERE name = 'tombs'").fetchone()
            tombs = c.execute("SELECT key, gen FROM pylearn_tombstones").fetchall()
            return (None if row is None else row[0]), [(k, int(g)) for k, g in tombs]

        return self._txn(read)

    def meta_get(self, name: str) -> str | None:
        row = self._retry(lambda c: c.execute(
            "SELECT value FROM pylearn_meta WHERE name = %s", (name,)).fetchone())
        return None if row is None else row[0]

    def meta_set(self, name: str, value: str) -> None:
        self.locked(lambda t: t.set_meta(name, value))

    # -- writes ---------------------------------------------------------------------
    def _txn(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(conn)`` in one transaction holding the team's write lock."""
        def run(c: Any) -> T:
            with c.transaction():
                c.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                return fn(c)

        return self._retry(run)

    def locked(self, fn: Callable[["_PgTxn"], T]) -> T:
        """Run ``fn(txn)`` in one write transaction: no writer publishes meanwhile."""
        return self._txn(lambda c: fn(_PgTxn(c)))

    def insert(self, key: str, kind: str, size: int, checksum: str, blob: str | None,
               inline: bytes | None, mac: str, record: dict[str, Any], gen: int = 0,
               publish: Callable[[], None] | None = None) -> bool:
        """Insert a row unless ``key`` exists or was deleted after ``gen``; True when
        this call inserted it. ``publish`` runs inside the write transaction, after
        the checks (as :meth:`SqliteIndex.insert`)."""
        row = (key, kind, size, checksum, blob, inline, mac, record, gen, publish)
        return self._txn(lambda c: _insert_row(c, row, time.time()))

    def insert_many(self, rows: list[tuple[Any, ...]]) -> set[str]:
        """:meth:`insert` of many ``(key, kind, size, checksum, blob, inline, mac, record,
        gen, publish)`` rows in ONE write transaction; the keys inserted now (as
        :meth:`SqliteIndex.insert_many`: a row whose ``publish`` fails with an
        ``OSError`` is skipped, the others commit)."""
        def txn(c: Any) -> set[str]:
            now = time.time()
            done: set[str] = set()
            for row in rows:
                try:
                    if _insert_row(c, row, now):
                        done.add(row[0])
                except OSError as exc:
                    log.warning("entry %s not stored: its file could not be published (%s)",
                                str(row[0])[:12], exc)
            return done

        return self._txn(txn) if rows else set()

    def insert_signed(self, signed: list[Any], inline: bytes | None, mac: str) -> bool:
        """Insert a row given as its signed columns (``SIGNED_COLS`` order)."""
        cols = ", ".join(SIGNED_COLS)
        sql = (f"INSERT INTO pylearn_entries ({cols}, inline, mac, last_access) "
               f"VALUES ({', '.join(['%s'] * (len(SIGNED_COLS) + 3))}) ON CONFLICT (key) DO NOTHING")
        values = (*signed, inline, mac, time.time())
        return bool(self._txn(lambda c: c.execute(sql, values).rowcount))

    def resign(self, key: str, checksum: str, mac: str) -> None:
        """Replace one row's payload MAC and row MAC (adopting a directory)."""
        self._txn(lambda c: c.execute(
            "UPDATE pylearn_entries SET checksum = %s, mac = %s WHERE key = %s",
            (checksum, mac, key)))

    def clear_all(self) -> None:
        """Drop every row, tombstone, claim and the deletion-log summary (a reset cache)."""
        def txn(c: Any) -> None:
            c.execute("DELETE FROM pylearn_entries")
            c.execute("DELETE FROM pylearn_tombstones")
            c.execute("DELETE FROM pylearn_claims")
            c.execute("DELETE FROM pylearn_meta WHERE name <> 'schema'")

        self._txn(txn)

    def delete(self, keys: Iterable[str]) -> int:
        return self.take(keys)[0]

    def delete_row(self, key: str, mac: str) -> bool:
        """Delete ``key``'s row only if it is still the one signed ``mac``."""
        return bool(self._retry(lambda c: c.execute(
            "DELETE FROM pylearn_entries WHERE key = %s AND mac = %s", (key, mac)).rowcount))

    def take(self, keys: Iterable[str],
             on_delete: Callable[["_PgTxn", list[tuple[str, str | None]]], None] | None = None
             ) -> tuple[int, list[str]]:
        """Delete the rows of ``keys``; returns ``(rows deleted, their blob names)``.

        ``on_delete(txn, [(key, blob), ...])`` runs inside the same write
        transaction (tombstones and the signed summary; see :meth:`SqliteIndex.take`).
        """
        keys = list(keys)
        n, blobs = 0, []
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]

            def txn(c: Any, chunk: list[str] = chunk) -> list[tuple[str, str | None]]:
                rows = [(k, b) for k, b in c.execute(
                    "DELETE FROM pylearn_entries WHERE key = ANY(%s) RETURNING key, blob",
                    (chunk,)).fetchall()]
                if on_delete is not None and rows:
                    on_delete(_PgTxn(c), rows)
                return rows

            rows = self._txn(txn)
            n += len(rows)
            blobs += [b for _, b in rows if b is not None]
        return n, blobs

    def lru_victims(self, max_bytes: int, target: int | None = None) -> list[str]:
        """Least recently used keys to drop so that at most ``target`` (default
        ``max_bytes``) remain, or nothing when ``max_bytes`` is not exceeded; reads
        only as many rows as it drops (batches in ``last_access`` order)."""
        _, total = self.stats()
        if total <= max_bytes:
            return []
        self.flush()
        goal = max_bytes if target is None else min(target, max_bytes)
        return pick_victims(total, goal, lambda n, off: self._retry(lambda c: c.execute(
            "SELECT key, size FROM pylearn_entries ORDER BY last_access, key "
            "LIMIT %s OFFSET %s", (n, off)).fetchall()))

    def touch(self, key: str) -> None:
        """Note a hit; flushed in batches (a hit should not cost a write)."""
        with self._pending_lock:
            self._pending[key] = time.time()
            due = len(self._pending) >= 256 or time.monotonic() - self._last_flush > 2.0
        if due:
            self.flush()

    def flush(self) -> None:
        """Write pending last-access times (one statement)."""
        with self._pending_lock:
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        if not pending:
            return
        try:
            self._retry(lambda c: c.execute(
                "UPDATE pylearn_entries e SET last_access = v.t FROM "
                "(SELECT unnest(%s::text[]) AS k, unnest(%s::float8[]) AS t) v WHERE e.key = v.k",
                (list(pending), list(pending.values()))))
        except Exception as exc:  # bookkeeping only: never fail a hit
            log.debug("could not record cache access times: %s", exc)

    # -- claims (single flight across hosts) ------------------------------------------
    def try_claim(self, key: str, owner: str, ttl: float) -> bool:
        return key in self.try_claim_many([key], owner, ttl)

    def try_claim_many(self, keys: list[str], owner: str, ttl: float) -> set[str]:
        """Claim several keys in one statement; returns those now ours."""
        keys = sorted(set(keys))  # sorted: two claimers lock rows in one order (no deadlock)
        if not keys:
            return set()
        return {r[0] for r in self._retry(lambda c: c.execute(
            _CLAIM, {"owner": owner, "ttl": float(ttl), "keys": keys}).fetchall())}

    def release_many(self, keys: list[str], owner: str) -> None:
        self._retry(lambda c: c.execute(
            "DELETE FROM pylearn_claims WHERE owner = %s AND key = ANY(%s)", (owner, list(keys))))

    def take_over(self, key: str, owner: str, ttl: float, stale: str) -> bool:
        """Move the claim on ``key`` from ``stale`` (a dead owner) to ``owner``; True if done."""
        return bool(self._retry(lambda c: c.execute(
            f"UPDATE pylearn_claims SET owner = %s, expires = {_NOW} + %s "
            "WHERE key = %s AND owner = %s", (owner, float(ttl), key, stale)).rowcount))

    def release(self, key: str, owner: str) -> None:
        self.release_many([key], owner)

    def claim_owner(self, key: str) -> str | None:
        row = self._retry(lambda c: c.execute(
            f"SELECT owner FROM pylearn_claims WHERE key = %s AND expires >= {_NOW}",
            (key,)).fetchone())
        return row[0] if row else None

    def close(self) -> None:
        self.flush()
        with self._all_lock:
            conns, self._all = self._all, []
        for pid, conn in conns:
            if pid != os.getpid():
                continue  # a forked child must never close (terminate) its parent's session
            try:
                conn.close()
            except Exception:
                pass
        self._local = threading.local()

    def __del__(self) -> None:
        # an index dropped without close(): end its sessions (no flush: the server may be away)
        for pid, conn in getattr(self, "_all", []):
            if pid == os.getpid():
                try:
                    conn.close()
                except Exception:
                    pass

    def __repr__(self) -> str:
        return f"PostgresIndex({self.path!r})"


_INSERT = (f"INSERT INTO pylearn_entries ({', '.join(_INSERT_COLS)}) "
           f"VALUES ({', '.join(['%s'] * len(_INSERT_COLS))})")


def _insert_row(c: Any, row: tuple[Any, ...], now: float) -> bool:
    """One row of :meth:`insert` inside an open write transaction."""
    return insert_checked(c.execute, row, now, present=_PRESENT, tomb=_TOMB, insert=_INSERT)


_PRESENT = "SELECT 1 FROM pylearn_entries WHERE key = %s"
_TOMB = "SELECT gen FROM pylearn_tombstones WHERE key = %s"
