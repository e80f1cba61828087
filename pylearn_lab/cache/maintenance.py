"""Deleting, checking, rebuilding and adopting a disk store's entries.

Everything here touches files only through :class:`~pylearn_lab.cache.confine.Confined`
(paths from keys, links never followed, nothing outside ``blobs/`` and ``tmp/``
deleted) and writes the index only inside its write transactions:

* :func:`delete` removes rows, writes their tombstones (the signed deletion log
  of :mod:`~pylearn_lab.cache.tombs`) and unlinks their blobs in one transaction;
* :func:`verify` checks every row MAC, tombstone, size and payload MAC, and
  removes stray files while holding the write lock (no writer is mid-publish);
* :func:`rebuild_index` recreates a lost or corrupt index from blobs whose
  header row and payload both verify;
* :func:`adopt` and :func:`reset` are the two explicit ways to take over a
  directory made under another key.

Examples
--------
>>> import tempfile
>>> from pylearn_lab.cache.disk import DiskStore
>>> s = DiskStore(tempfile.mkdtemp())
>>> s.put("a" * 32, {"kind": "raw", "frames": [1]}, [memoryview(b"x")], "c", {})
True
>>> delete(s, ["a" * 32]), s.get("a" * 32)
(1, None)
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CacheCorruptError, IntegrityError
from . import tombs
from .binding import LEGACY_SECRET, write_marker
from .confine import blob_name, check_key
from .leases import tmp_writer_alive
from .serialize import checksum_with_header, read_header
from .records import JSON_COLS as _JSON_COLS
from .records import SIGNED_COLS
from .sqlite_index import INDEX_NAME, IndexTxn, SqliteIndex
from .store import VerifyReport
from .warn import warn_once

if TYPE_CHECKING:
    from .disk import DiskStore

__all__ = ["delete", "drop_row", "verify", "rebuild_index", "adopt", "reset", "signed_records"]

_N = len(SIGNED_COLS)


def _sign_deletions(store: "DiskStore", txn: IndexTxn, keys: list[str]) -> tombs.Summary:
    """Inside a write transaction: tombstone ``keys`` and re-sign the log summary."""
    summary = tombs.Summary.loads(txn.meta("tombs"), store._signer, store.cache_id)
    if summary is None:
        raise IntegrityError("the deletion log of this cache was altered; run verify()")
    now = time.time_ns()
    for key in keys:
        old = txn.tomb(key)
        gen = max(now, (old + 1) if old is not None else 0)
        summary = summary.replaced(store._signer, key, old, gen)
        txn.set_tomb(key, gen)
    txn.set_meta("tombs", summary.dumps(store._signer, store.cache_id))
    return summary


def delete(store: "DiskStore", keys: Iterable[str]) -> int:
    """Remove entries for good: rows, blobs, and a tombstone each (one transaction)."""
    seen: list[tombs.Summary] = []
    with_blobs: list[str] = []

    def on_delete(txn: IndexTxn, rows: list[tuple[str, str | None]]) -> None:
        seen.append(_sign_deletions(store, txn, [k for k, _ in rows]))
        with_blobs.extend(k for k, b in rows if b)

    n, _ = store.index.take(keys, on_delete)
    _unlink_unindexed(store, with_blobs)
    if seen:
        tombs.record_seen(store.cache_id, seen[-1])
    return n


def _unlink_unindexed(store: "DiskStore", keys: list[str]) -> None:
    """Remove the blobs of ``keys`` whose rows are gone, after the deleting commit.

    In a transaction of its own: writers publish a blob and insert its row under
    the same write lock, so a key without a row here has no blob being written;
    a kill before this point leaves an orphan file (removed by verify), never a
    row whose blob is missing.
    """
    if not keys:
        return

    def txn(t: IndexTxn) -> None:
        alive = t.alive(keys)
        for key in keys:
            if key not in alive:
                store.files.unlink_blob(key)

    store.index.locked(txn)


def drop_row(store: "DiskStore", key: str, mac: str, has_blob: bool) -> bool:
    """Remove one bad row (only if it is still the one examined) and its blob file."""
    gone = store.index.delete_row(key, mac)
    if gone and has_blob:
        _unlink_unindexed(store, [key])
    return gone


def _row_valid(store: "DiskStore", row: tuple[Any, ...]) -> bool:
    signed, mac, tomb = row[:_N], row[_N + 1], row[_N + 2]
    return store._signer.row_ok(mac, store.row_fields(signed)) and (tomb is None or tomb < signed[5])


def signed_records(store: "DiskStore", func: str | None, keys: Iterable[str] | None
                   ) -> Iterator[dict[str, Any]]:
    """Record dicts of rows whose MAC verifies and that were not deleted before."""
    store.index.flush()
    rows = store.index.signed_rows(func=func if keys is None else None,
                                   keys=None if keys is None else list(keys))
    bad = 0
    for row in rows:
        signed, last_access, mac, tomb = row[:_N], row[_N], row[_N + 1], row[_N + 2]
        if not store._signer.row_ok(mac, store.row_fields(signed)) or (
                tomb is not None and tomb >= signed[5]):
            bad += 1
            continue
        rec = dict(zip(SIGNED_COLS, signed))
        for col in _JSON_COLS:
            rec[col] = json.loads(rec[col]) if rec[col] else {}
        rec["last_access"] = last_access
        for col in ("checksum", "blob", "gen"):
            rec.pop(col)
        yield rec
    if bad:
        warn_once(store.location, "bad records",
                  f"{bad} rows of the cache {store.root} do not verify (edited, planted or "
                  "replayed) and were left out of the records; verify() removes them.")


def verify(store: "DiskStore", repair: bool) -> VerifyReport:
    report = VerifyReport(bad=[])
    try:
        rows = store.index.all_rows()
    except CacheCorruptError:
        if not repair or store._external_index is not None:
            raise
        # Damage past the header (a bad page): open found nothing wrong, a full scan did.
        store.index.close()
        rebuild_index(store, store.index.path)
        store.index = SqliteIndex(store.index.path, group=store.files.group,
                                  on_corrupt=lambda p: rebuild_index(store, p))
        report.rebuilt = True
        rows = store.index.all_rows()
    text, tomb_rows = store.index.deletion_log()  # one snapshot (see SqliteIndex.deletion_log)
    summary = tombs.Summary.loads(text, store._signer, store.cache_id)
    if summary is None or not summary.matches(store._signer, tomb_rows):
        report.untrusted = "its deletion log was altered (entries deleted earlier could be put back)"
        return report
    hasher = store._signer.payload_hasher
    for row in rows:
        signed, inline, mac = row[:_N], row[_N], row[_N + 1]
        key, size, checksum, blob = signed[0], signed[2], signed[3], signed[4]
        report.checked += 1
        ok = _row_valid(store, row)
        if ok and inline is not None:
            ok = len(inline) == size and _payload_ok(memoryview(inline), checksum, hasher)
        elif ok:
            try:
                check_key(key)
                fd = store.files.open_blob(key)
            except FileNotFoundError:
                report.missing += 1
                if repair:
                    store.index.delete_row(key, mac)
                continue
            except IntegrityError:
                fd = None
            if fd is None:
                ok = False
            else:
                with os.fdopen(fd, "rb") as f:
                    st = os.fstat(f.fileno())
                    ok = stat.S_ISREG(st.st_mode) and st.st_size == size and _payload_ok(
                        memoryview(f.read()), checksum, hasher)
        if not ok:
            report.bad.append(key)
            if repair:
                drop_row(store, key, mac, bool(blob))
    _strays(store, report, repair)
    report.repaired = repair and not report.ok
    return report


def _payload_ok(data: memoryview, checksum: str, hasher: Any) -> bool:
    try:
        return checksum_with_header(data, read_header(data), hasher) == checksum
    except IntegrityError:
        return False


def _strays(store: "DiskStore", report: VerifyReport, repair: bool) -> None:
    """Files under ``blobs/`` and ``tmp/`` no row names, removed under the write lock."""
    def txn(t: IndexTxn) -> None:
        named = {blob_name(k) for k in t.blob_keys()}
        for sub, name, st in list(store.files.scan("blobs")):
            rel = f"{sub}/{name}" if sub else name
            if rel in named and stat.S_ISREG(st.st_mode):
                continue
            if sub == "" and stat.S_ISDIR(st.st_mode):
                continue  # a fan-out directory (removed when empty below)
            report.orphans += 1
            if repair:
                store.files.remove_stray("blobs", sub, name)
        for _, name, st in list(store.files.scan("tmp")):
            if stat.S_ISREG(st.st_mode) and tmp_writer_alive(name):
                continue  # being written, its row not yet due
            report.orphans += 1
            if repair:
                store.files.remove_stray("tmp", "", name)

    store.index.locked(txn)


def rebuild_index(store: "DiskStore", index_path: Path) -> None:
    """Move a corrupt index aside and rebuild it from blobs whose row and payload verify.

    The deletion log went with the old index, so a blob older than the latest
    deletion this user saw is not trusted back (it could be one put back after
    being deleted); such entries are recomputed.
    """
    aside = index_path.with_name(f"{index_path.name}.corrupt-{int(time.time())}")
    moved = False
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(index_path) + suffix)
        if p.exists() and not p.is_symlink():
            os.replace(p, str(aside) + suffix)
            moved = True
    what = f"was corrupt; it was moved to {aside.name} and" if moved else "was missing; it was"
    warn_once(store.location, "rebuilt",
              f"the cache index in {store.root} {what} rebuilt from the blob files (small inline "
              "entries and entries older than the last deletion are recomputed when needed).",
              stacklevel=4)
    c_seen, last_deleted = tombs.seen_count(store.cache_id)
    fresh = SqliteIndex(index_path, read_only=False, on_corrupt=None, group=store.files.group)
    summary = tombs.Summary(c_seen, 0, 0, last_deleted)
    fresh.meta_set("tombs", summary.dumps(store._signer, store.cache_id))
    hasher = store._signer.payload_hasher
    for sub, name, st in list(store.files.scan("blobs")):
        if not sub or not stat.S_ISREG(st.st_mode):
            continue
        try:
            key = check_key(name)
            if blob_name(key) != f"{sub}/{name}":
                raise IntegrityError("misplaced")
            fd = store.files.open_blob(key)
            with os.fdopen(fd, "rb") as f:
                data = memoryview(f.read())
            head, _ = read_header(data)
            tail = head["row"]
            signed = [key, head["kind"], data.nbytes, head["checksum"], head["blob"], head["gen"], *tail]
            if (len(signed) != _N or head["blob"] != blob_name(key) or head["gen"] <= last_deleted
                    or not store._signer.row_ok(head["rowmac"], store.row_fields(signed))
                    or not _payload_ok(data, head["checksum"], hasher)):
                raise IntegrityError("does not verify")
            fresh.insert_signed(signed, None, head["rowmac"])
        except (OSError, IntegrityError, KeyError, ValueError, TypeError):
            store.files.remove_stray("blobs", sub, name)
    fresh.close()


def _clear_files(store: "DiskStore") -> int:
    n = 0
    for top in ("blobs", "tmp"):
        for sub, name, _ in list(store.files.scan(top)):
            store.files.remove_stray(top, sub, name)
            n += 1
        for sub, name, st in list(store.files.scan(top)):
            if stat.S_ISDIR(st.st_mode):
                store.files.remove_stray(top, sub, name)
    return n


def reset(store: "DiskStore") -> int:
    """Drop every entry of a directory we may write and bind it to our key.

    Only the cache's own files go: the index, a legacy in-directory secret, and
    what is under ``blobs/`` and ``tmp/`` (links removed, never followed).
    Returns how many blob files were removed. A team cache's rows, tombstones and
    deletion log live in its database: they are dropped there.
    """
    if store._external_index is not None:
        store._external_index.clear_all()
    for suffix in ("", "-wal", "-shm"):
        p = store.root / f"{INDEX_NAME}{suffix}"
        if p.exists() or p.is_symlink():
            p.unlink()
    secret = store.root / LEGACY_SECRET
    if secret.exists() or secret.is_symlink():
        secret.unlink()
    store.files.ensure_dirs()
    n = _clear_files(store)
    store.cache_id = write_marker(store.root, store._signer, replace=True,
                                  group=store.files.group)
    return n


def adopt(store: "DiskStore") -> int:
    """Trust a directory made under another key: re-sign every entry whose bytes are
    whole with our key (the caller vouches for what they contain). Returns how many."""
    rows = store.index.all_rows()
    store.cache_id = write_marker(store.root, store._signer, cache_id=None, replace=True,
                                  group=store.files.group)
    hasher = store._signer.payload_hasher
    n = 0
    for row in rows:
        signed, inline = list(row[:_N]), row[_N]
        key = signed[0]
        try:
            if inline is not None:
                data = memoryview(inline)
            else:
                with os.fdopen(store.files.open_blob(key), "rb") as f:
                    data = memoryview(f.read())
            if data.nbytes != signed[2]:
                raise IntegrityError("size")
            signed[3] = checksum_with_header(data, read_header(data), hasher)
        except (OSError, IntegrityError):
            drop_row(store, key, row[_N + 1], inline is None)
            continue
        mac = store._signer.row_mac(store.row_fields(signed))
        store.index.resign(key, signed[3], mac)
        n += 1
    tomb_rows = store.index.tombstones()
    summary = tombs.Summary.empty()
    for key, gen in tomb_rows:
        summary = summary.replaced(store._signer, key, None, gen)
    store.index.meta_set("tombs", summary.dumps(store._signer, store.cache_id))
    if store._external_index is not None:  # the database now serves the new identity
        store.index.meta_set("cache_id", store.cache_id)
    store.files.ensure_dirs()
    store._log_checked = False
    return n
