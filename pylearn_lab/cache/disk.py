"""The on-disk store: a SQLite index (WAL) plus immutable blob files.

Layout of a cache directory (mode 0700)::

    pylearn-cache.json  the marker: the cache's identity, bound (MAC) to the key
    index.sqlite        one row per entry: the experiment record, payload MAC, row
                        MAC, generation, and the bytes themselves when small
    blobs/ab/<key>      large values, written once, never modified
    tmp/                blobs being written (temp file, then rename)

The key that signs everything is *not* in the directory: it lives with the user
(:mod:`~pylearn_lab.cache.keyring`), so a copied, cloned or shared directory is
untrusted until its user says otherwise (:mod:`~pylearn_lab.cache.binding`).

Write protocol: blob to ``tmp/`` -> in one index write transaction: check that
the key is absent and not deleted since the write began, rename the blob into
``blobs/``, insert the row. A process killed at any point leaves either nothing
visible or a whole entry; stray files are invisible and removed by
:meth:`DiskStore.verify`. Paths come from the key alone and every file call
refuses links (:mod:`~pylearn_lab.cache.confine`).

Read protocol: one indexed ``SELECT``; the row MAC (every column but the access
time) and the deletion log are checked before anything else; inline bytes are
MAC-checked on every read, blob files once per process per (inode, mtime,
ctime, size) -- after checking the file has exactly the signed size -- and then
memory-mapped (zero copy). Inline bytes already verified are served again from
the hit memo (:mod:`~pylearn_lab.cache.memo`) while the index's read stamp is
unchanged, i.e. while nobody wrote the index.

The parts: an :class:`~pylearn_lab.cache.index.Index` (the rows), a
:class:`~pylearn_lab.cache.blobs.BlobStore` (the files); the value format is
not this module's business (:mod:`~pylearn_lab.cache.codec`).

Examples
--------
>>> import tempfile
>>> s = DiskStore(tempfile.mkdtemp())
>>> s.put("a" * 32, {"kind": "raw", "frames": [4]}, [memoryview(b"data")], "c", {"func": "f"})
True
>>> s.contains(["a" * 32, "b" * 32]) == {"a" * 32}
True
"""

from __future__ import annotations

import errno
import logging
import mmap
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

from ..errors import CacheError, IntegrityError
from . import maintenance, tombs
from .auth import Signer
from .blobs import _VERIFIED, BlobStore, LocalBlobs  # noqa: F401  (_VERIFIED: tests clear it)
from .binding import MARKER, check_not_system, checked_root, classify, write_marker
from .confine import Confined, blob_name, check_key, check_tmp_name
from .keyring import load_team_key, load_user_key
from .index import Index, StampedIndex
from .memo import HitMemo
from .serialize import checksum_of_fd, checksum_with_header, layout, read_header
from .records import SIGNED_COLS, SignedRecord, record_values
from .sqlite_index import INDEX_NAME, SqliteIndex
from .store import StoredEntry, VerifyReport, register_store
from .warn import warn_once

__all__ = ["DiskStore", "INLINE_MAX"]

log = logging.getLogger(__name__)

#: Values up to this many bytes live in the index row (a hit opens no file).
INLINE_MAX = 64 * 1024

_NSIGNED = len(SIGNED_COLS)
_PLACEHOLDER = "0" * 64
_FULL = {errno.ENOSPC, errno.EDQUOT}


class DiskStore:
    """SQLite + blob-file :class:`~pylearn_lab.cache.store.Store`.

    Parameters
    ----------
    path : str or Path
        The cache directory (created 0700 if missing). An existing non-empty
        directory must already be a cache.
    durable : bool
        ``fsync`` blobs before they become visible (survives power loss, slower).
    trust : None, True, "reset" or a key file path
        ``None``: sign with your personal key; a directory made under another key
        is untrusted (misses, nothing written, one warning). ``True``: adopt such
        a directory -- you vouch for every entry in it and they are re-signed with
        your key. ``"reset"``: drop its entries and make it yours. A path: sign
        with that team key file (see docs/security.md).
    force : bool
        Allow a system directory (``/``, ``/etc``, your home directory itself).
    index : object, optional
        An index with :class:`SqliteIndex`'s interface to use instead of the
        directory's own (a team cache's
        :class:`~pylearn_lab.cache.postgres_index.PostgresIndex`).
    """

    #: a directory: processes of this host open it; hosts that mount it at some path too
    scope = "host"

    def __init__(self, path: str | os.PathLike[str], durable: bool = False,
                 trust: Any = None, force: bool = False, *, index: Any = None) -> None:
        self.root = checked_root(path)
        self._external_index = index
        self.location = str(self.root)
        self.durable = durable
        self.read_only = False
        self.untrusted = ""
        self.key_file: str | None = None
        self.index: Index = None  # type: ignore[assignment]  # set once trusted
        self._log_checked = False
        # verified inline entries, valid while the index's read stamp holds (memo.py);
        # only for an index that can tell cheaply whether anyone wrote
        self._memo = HitMemo() if index is None or isinstance(index, StampedIndex) else None
        check_not_system(self.root, force)
        if self.root.exists() and not self.root.is_dir():
            raise CacheError(
                f"cache path {self.root} exists and is not a directory. Expected a directory "
                "(or a path that can be created); pass another path or set PYLEARN_CACHE."
            )
        if trust is not None and trust is not True and trust != "reset":
            self.key_file = str(Path(trust).expanduser().absolute())
            self._signer = Signer(load_team_key(self.key_file))
        else:
            self._signer = Signer(load_user_key())
        state, self.cache_id, cause = classify(self.root, self._signer)
        self.files = Confined(self.root, group=self.key_file is not None)
        self.blobs: BlobStore = LocalBlobs(self.files, self._signer, durable)
        created = self._create_dirs() if state == "new" else []
        if not os.access(self.root, os.W_OK):
            self.read_only = True
        index_path = self.root / INDEX_NAME
        for suffix in ("", "-wal", "-shm"):
            p = Path(f"{index_path}{suffix}")
            if p.is_symlink():
                raise CacheError(
                    f"{p} is a symlink: a cache never follows links. Remove it (the index is "
                    "rebuilt from the blob files) or use another cache directory.")
        if (index is None and not self.read_only and index_path.exists()
                and not os.access(index_path, os.W_OK)):
            self.read_only = True
            warn_once(self.location, "read-only index",
                      f"the cache index {index_path} is read-only: the cache {self.root} "
                      "serves hits but stores nothing new. Make the file writable to store.")
        if state == "new":
            self._bind_new(created)
        elif state == "legacy":
            self._legacy(cause)
        elif state == "foreign":
            if trust is True and not self.read_only:
                self._open_index()
                maintenance.adopt(self)
                return
            if trust == "reset" and not self.read_only:
                maintenance.reset(self)
            else:
                self._distrust(cause)
        if self.untrusted:
            return
        if not self.read_only:
            self.files.ensure_dirs()
        self._open_index()
        self._log_checked = False

    # -- opening --------------------------------------------------------------------
    def _create_dirs(self) -> list[Path]:
        made: list[Path] = []
        missing = [p for p in [self.root, *self.root.parents] if not p.exists()]
        try:
            for p in reversed(missing):
                p.mkdir(mode=0o700)
                made.append(p)
            if made and self.key_file is not None:
                os.chmod(self.root, 0o2770)  # a team cache: the group's members write it
        except FileExistsError:
            pass
        except OSError as exc:
            for p in reversed(made):
                _rmdir_quiet(p)
            if not self.root.is_dir():
                raise CacheError(
                    f"cannot create the cache directory {self.root}: {exc.strerror}. Pass a "
                    "writable path to Cache(path=...) or set PYLEARN_CACHE, or use cache=False."
                ) from None
        return made

    def _bind_new(self, created: list[Path]) -> None:
        if not os.access(self.root, os.W_OK):
            # A read-only directory that never held a cache: nothing there could be
            # authenticated, so it serves no entry (an empty index) and stores none
            # (put() refuses, with a warning) -- runs go on uncached.
            self.read_only = True
            return
        try:
            self.cache_id = write_marker(self.root, self._signer, group=self.files.group)
            self.files.ensure_dirs()
        except OSError as exc:
            # e.g. a full disk: leave nothing behind, not even the directories we made (a
            # marker in a directory we did not create may be a concurrent creator's)
            for name in ("tmp", "blobs"):
                _rmdir_quiet(self.root / name)
            if created:
                (self.root / MARKER).unlink(missing_ok=True)
            for p in reversed(created):
                _rmdir_quiet(p)
            err = CacheError(
                f"cannot create a cache in {self.root}: {exc.strerror or exc}. Free some space "
                "or pass another directory; runs go on uncached meanwhile.")
            err.disk_full = exc.errno in _FULL  # type: ignore[attr-defined]
            raise err from None
        state, self.cache_id, cause = classify(self.root, self._signer)
        if state != "ours":  # a concurrent creator bound it to another key
            self._distrust(cause)

    def _legacy(self, cause: str) -> None:
        st = os.lstat(self.root)
        if self.read_only or st.st_uid != os.geteuid():
            self._distrust(cause)
            return
        n = maintenance.reset(self)
        warn_once(self.location, "legacy",
                  f"the cache {self.root} was not trusted: {cause}. Its {n} entries were dropped "
                  "and will be recomputed; the cache is now bound to your own key.")

    def _distrust(self, cause: str) -> None:
        self.untrusted = cause
        self.read_only = True
        warn_once(self.location, "untrusted",
                  f"the cache {self.root} is not trusted: {cause}. Its entries are treated as "
                  "misses (recomputed) and nothing is stored there. If you know who wrote it, "
                  f"trust it: pl.Cache({str(self.root)!r}, trust=True) or `%pylearn cache trust "
                  f"{self.root}`; to start it afresh use trust='reset'; for a team cache pass "
                  "the team key file as trust=... (docs/security.md).")

    def _open_index(self) -> None:
        if self._external_index is not None:  # a server index: nothing of it lives here
            self.index = self._external_index
            self._log_checked = False
            self._check_bound_database()
            return
        index_path = self.root / INDEX_NAME
        if not self.read_only and _index_lost(self, index_path):
            # deleted or cut to less than SQLite's header (which SQLite would take for a
            # new empty database): every blob would be orphaned -- rebuild from them instead
            maintenance.rebuild_index(self, index_path)
        self.index = SqliteIndex(index_path, read_only=self.read_only, group=self.files.group,
                                 on_corrupt=lambda p: maintenance.rebuild_index(self, p))
        self._log_checked = False

    def _check_bound_database(self) -> None:
        """A database serves one blob directory (one marker): another one is refused
        with a clear cause (its rows could not verify here anyway)."""
        bound = self.index.meta_get("cache_id")
        if bound is None and not self.read_only:
            self.index.meta_set("cache_id", self.cache_id)
        elif bound is not None and bound != self.cache_id:
            self._distrust(
                f"the database {self.index.path} holds the index of another cache (id "
                f"{bound[:12]}, this blob directory is {self.cache_id[:12]}): give each team "
                "cache its own database, or pass the blob directory that database was made with")

    # -- signing ----------------------------------------------------------------------
    def row_fields(self, signed: Iterable[Any]) -> list[Any]:
        """What the row MAC covers: the cache's identity plus the signed columns."""
        return [self.cache_id, *signed]

    @property
    def payload_hasher(self) -> Callable[[], Any]:
        """Factory of the keyed hasher that makes payload checksums (a MAC)."""
        return self._signer.payload_hasher

    def _check_log(self) -> None:
        """Once per process: the deletion log is the one this key signed, not rolled back."""
        if self._log_checked or self.untrusted:
            return
        # what this user saw is read BEFORE the index: a deleter commits its count, then
        # records it as seen, so a count read the other way round could be older than the
        # record it is compared with (a false rollback under concurrent deletes)
        seen, _ = tombs.seen_count(self.cache_id)
        text, tomb_rows = self.index.deletion_log()
        summary = tombs.Summary.loads(text, self._signer, self.cache_id)
        if summary is None or not summary.matches(self._signer, tomb_rows):
            self._distrust("its deletion log was altered (entries deleted earlier could be put back)")
        elif summary.c < seen:
            self._distrust(f"its index was rolled back to an older copy ({summary.c} deletions "
                           f"recorded, {seen} seen before)")
        self._log_checked = True

    # -- reading --------------------------------------------------------------------
    def get(self, key: str) -> StoredEntry | None:
        memo = self._memo
        stamp = None
        if memo is not None and self._log_checked and not self.untrusted and type(key) is str:
            # the stamp is read BEFORE the row: a write after it shows at the next lookup.
            # A key found in the memo passed check_key when it was remembered.
            stamp = cast(StampedIndex, self.index).read_stamp()
            known = memo.entry_for(stamp, key)
            if known is not None:
                kind, size, raw, header = known
                self.index.touch(key)
                return StoredEntry(key, kind, size, memoryview(raw), {}, header)
        if self.untrusted:
            return None
        try:
            check_key(key)
        except IntegrityError:
            return None
        self._check_log()
        if self.untrusted:
            return None
        if memo is not None and stamp is None:
            stamp = cast(StampedIndex, self.index).read_stamp()
        row = self.index.fetch(key)
        if row is None:
            return None
        signed, (inline, mac, tomb) = row[:_NSIGNED], row[_NSIGNED:]
        kind, size, checksum, blob, gen = signed[1], signed[2], signed[3], signed[4], signed[5]
        if not self._signer.row_ok(mac, self.row_fields(signed)):
            self._drop(key, mac, blob)
            raise IntegrityError(
                f"cache entry {key[:12]} has no valid signature: it was not written with your "
                "key (planted or altered). It was refused unread and removed; it will be "
                "recomputed."
            )
        if tomb is not None and tomb >= gen:
            self._drop(key, mac, blob)
            raise IntegrityError(
                f"cache entry {key[:12]} was deleted earlier and put back (replayed). It was "
                "refused unread and removed; it will be recomputed."
            )
        header = None
        if inline is not None:
            data = memoryview(inline)
            if data.nbytes != size:
                self._drop(key, mac, blob)
                raise IntegrityError(f"cache entry {key[:12]} has the wrong size; it will be recomputed")
            header = read_header(data)
            if checksum_with_header(data, header, self._signer.payload_hasher) != checksum:
                self._drop(key, mac, blob)
                raise IntegrityError(f"cache entry {key[:12]} failed its checksum (MAC); "
                                     "it will be recomputed")
            if memo is not None:
                memo.remember(stamp, key, (kind, size, bytes(inline), header))
        else:
            try:
                data = self.blobs.get(key, size, checksum)
            except FileNotFoundError:
                if self._drop(key, mac, None):  # else: deleted meanwhile, a plain miss
                    log.warning("cache entry %s lost its blob file; it will be recomputed", key[:12])
                return None
            except IntegrityError:
                self._drop(key, mac, blob)
                raise
        self.index.touch(key)
        return StoredEntry(key, kind, size, data, {}, header)

    def contains(self, keys: Iterable[str]) -> set[str]:
        if self.untrusted:
            return set()
        return self.index.present(keys)

    def records(self, func: str | None = None, keys: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Rows whose MAC verifies (others are skipped with one warning)."""
        if self.untrusted:
            return iter(())
        self._check_log()
        if self.untrusted:
            return iter(())
        return maintenance.signed_records(self, func, keys)

    def stats(self) -> tuple[int, int]:
        return (0, 0) if self.untrusted else self.index.stats()

    # -- writing --------------------------------------------------------------------
    def _signed_row(self, key: str, head: dict[str, Any], payload: list[memoryview],
                    checksum: str, record: dict[str, Any], header_len: int | None = None
                    ) -> tuple[tuple[Any, ...], list[memoryview]]:
        """The one way a row is built (:meth:`put` and :meth:`adopt`): generation, record,
        blob name from the key, header, row MAC.

        Returns ``((key, kind, size, checksum, blob, inline, mac, record, gen), parts)``;
        ``inline`` is the bytes for a small value, None for a blob (``parts`` to write).
        A blob file's header repeats the signed row (the index can be rebuilt from the
        blobs); an inline value's header holds only its codec fields -- the row it
        lives in is the entry (with the payload MAC), so a copy of the row in it would be rebuilt
        from nothing (and encoding it was a third of the cost of indexing a small
        result). ``header_len`` reserves a blob header region (inline values ignore it).
        """
        check_key(key)
        gen = time.time_ns()
        rec = {**record, "created": record.get("created") or time.time()}
        kind = head["kind"]
        payload_size = sum(p.nbytes for p in payload)
        blob = None if payload_size <= INLINE_MAX else blob_name(key)
        tail = record_values(rec, 0.0)
        rec = SignedRecord(rec)
        rec.row_values = tail  # the index stores exactly the signed values (encoded once)
        if blob is None:
            # codec fields only: equal values of one shape share header bytes, so a hit
            # parses each distinct header once (serialize.read_header's memo)
            parts, size = layout(head, payload)
            mac = self._signer.row_mac(self.row_fields([key, kind, size, checksum, None, gen,
                                                        *tail]))
            return (key, kind, size, checksum, None, b"".join(parts), mac, rec, gen), parts
        # The header repeats the signed row, so the index can be rebuilt from the blobs;
        # the row MAC (over the total size, header included) fills a same-length placeholder.
        parts, size = layout({**head, "checksum": checksum, "gen": gen, "blob": blob,
                              "row": list(tail), "rowmac": _PLACEHOLDER}, payload, header_len)
        mac = self._signer.row_mac(self.row_fields([key, kind, size, checksum, blob, gen, *tail]))
        first = bytes(parts[0]).replace(f'"rowmac":"{_PLACEHOLDER}"'.encode(),
                                        f'"rowmac":"{mac}"'.encode(), 1)
        parts = [memoryview(first), *parts[1:]]
        return (key, kind, size, checksum, blob, None, mac, rec, gen), parts

    def put(self, key: str, head: dict[str, Any], payload: list[memoryview], checksum: str,
            record: dict[str, Any]) -> bool:
        if self.untrusted:
            return False
        if self.read_only:
            raise CacheError(f"the cache directory {self.root} is read-only; results are not stored")
        row, parts = self._signed_row(key, head, payload, checksum, record)
        key, kind, size, checksum, blob, inline, mac, rec, gen = row
        if blob is None:
            return self.index.insert(key, kind, size, checksum, None, inline, mac, rec, gen)
        tmp = self.blobs.write(key, parts)
        try:
            return self.index.insert(key, kind, size, checksum, blob, None, mac, rec, gen,
                                     publish=lambda: self.files.publish(tmp, key))
        finally:
            self.files.unlink_tmp(tmp)  # gone already when published

    def adopt(self, entries: list[dict[str, Any]]) -> set[str]:
        """Store values computed elsewhere (cluster engines): all rows in ONE transaction.

        Each entry has ``key``, ``head`` (kind, dtype, shape, frames), ``record`` and
        either ``payload`` (the encoded bytes, shipped) or ``tmp``: the name of a temp
        file an engine wrote into this cache's ``tmp/`` (header region, then payload).
        Nothing an engine says is trusted: a ``tmp`` name must be exactly one
        :meth:`~pylearn_lab.cache.confine.Confined.write_tmp` makes for the key (it is
        opened under ``tmp/`` by name, links refused); the payload MAC is computed
        here, with this store's key, over the bytes as they are; each row is built by
        the same code as :meth:`put` (generation, row MAC, header repeating the row,
        rewritten in place over the engine's header region) and published inside the
        index transaction. Refused entries are skipped with a logged warning; an
        ``OSError`` (the directory was deleted, the disk is full) stores nothing and
        propagates, its temp files removed. Returns the keys
        stored now; keys already stored (or deleted since) keep their first value.
        """
        if self.untrusted:
            for e in entries:
                self._discard_tmp(e)
            return set()
        if self.read_only:
            raise CacheError(f"the cache directory {self.root} is read-only; results are not stored")
        rows: list[tuple[Any, ...]] = []
        temps: list[str] = []
        try:
            for e in entries:
                try:
                    built = self._adopt_one(e)
                except (ValueError, KeyError, TypeError, IntegrityError) as exc:
                    # a receipt that does not hold up; an OSError (directory gone, disk
                    # full) fails the whole batch instead: the caller warns and hands over
                    log.warning("result of %s from an engine refused: %s",
                                str(e.get("key"))[:12], exc)
                    self._discard_tmp(e)
                    continue
                row, tmp = built
                if tmp is not None:
                    temps.append(tmp)
                key = row[0]
                rows.append((*row, None if tmp is None else
                             (lambda t=tmp, k=key: self.blobs.publish(t, k))))
            return set(self.index.insert_many(rows))  # every Index has it: one transaction
        finally:
            for t in temps:
                self.files.unlink_tmp(t)  # gone already when published

    def _adopt_one(self, e: dict[str, Any]) -> tuple[tuple[Any, ...], str | None]:
        key, head, record = check_key(e["key"]), dict(e["head"]), dict(e["record"])
        if "payload" in e:
            payload = [memoryview(e["payload"])]
            checksum = checksum_with_header(payload[0], (head, 0), self._signer.payload_hasher)
            row, parts = self._signed_row(key, head, payload, checksum, record)
            return row, None if row[4] is None else self.blobs.write(key, parts)
        tmp = e["tmp"]
        fd = self.files.open_tmp(key, tmp)
        try:
            if os.fstat(fd).st_size < 8:
                raise IntegrityError("truncated temp file")
            mm = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
            try:
                row, first, fresh = self._sign_tmp(key, head, record, mm, fd)
            finally:
                try:
                    mm.close()
                except BufferError:  # views held by a traceback: the map goes with them
                    pass
            if fresh is not None or row[4] is None:  # copied, or small after all (inline)
                self.files.unlink_tmp(tmp)
                return row, fresh
            os.pwrite(fd, first, 0)  # the signed header over the engine's reserved region
            if self.durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        return row, tmp

    def _sign_tmp(self, key: str, head: dict[str, Any], record: dict[str, Any], mm: mmap.mmap,
                  fd: int) -> tuple[tuple[Any, ...], bytes, str | None]:
        """``(row, signed header bytes, name of a fresh copy or None)`` for an engine's
        temp file mapped as ``mm`` (its views end with this call, so the map can close)."""
        data = memoryview(mm)
        _, offset = read_header(data)
        hlen = int.from_bytes(data[4:8], "little")
        payload = [data[offset:]]
        frames = [int(n) for n in head["frames"]]
        if sum(n + (-n) % 64 for n in frames) != payload[0].nbytes:
            raise IntegrityError("its frames do not match the file's size")
        # the MAC is made here, with this store's key, over the bytes as they are now
        # (read, not through the map: the client's memory stays flat whatever the size)
        checksum = checksum_of_fd(fd, head, offset, data.nbytes, self._signer.payload_hasher)
        try:
            row, parts = self._signed_row(key, head, payload, checksum, record, hlen)
        except ValueError:  # the record outgrew the engine's header region: copy the file
            row, parts = self._signed_row(key, head, payload, checksum, record)
            return row, b"", None if row[4] is None else self.blobs.write(key, parts)
        return row, bytes(parts[0]), None

    def _discard_tmp(self, e: dict[str, Any]) -> None:
        try:
            self.files.unlink_tmp(check_tmp_name(e.get("key"), e.get("tmp")))  # type: ignore[arg-type]
        except (IntegrityError, OSError):
            pass  # not a name of ours: never touched

    def locate(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """What an engine needs to read stored entries without the index.

        ``key -> {"kind", "checksum", "blob", "inline", "fields", "mac"}`` for the
        entries among ``keys`` whose row MAC verifies, that were not deleted and
        replayed, and (inline ones) whose payload MAC verifies; ``fields``/``mac`` let
        an engine holding the key check the row itself.
        """
        if self.untrusted:
            return {}
        self._check_log()
        if self.untrusted:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for key in keys:
            try:
                check_key(key)
            except IntegrityError:
                continue
            row = self.index.fetch(key)
            if row is None:
                continue
            signed, (inline, mac, tomb) = row[:_NSIGNED], row[_NSIGNED:]
            fields = self.row_fields(signed)
            if not self._signer.row_ok(mac, fields) or (tomb is not None and tomb >= signed[5]):
                continue
            if inline is not None:
                data = memoryview(inline)
                try:
                    ok = data.nbytes == signed[2] and checksum_with_header(
                        data, read_header(data), self._signer.payload_hasher) == signed[3]
                except IntegrityError:
                    ok = False
                if not ok:
                    continue
            out[key] = {"kind": signed[1], "checksum": signed[3], "blob": signed[4],
                        "inline": None if inline is None else bytes(inline),
                        "fields": fields, "mac": mac}
        return out

    def _drop(self, key: str, mac: str, blob: str | None) -> bool:
        # Only the row that was examined: the key may have been stored again meanwhile.
        if self.read_only:
            return False
        return maintenance.drop_row(self, key, mac, bool(blob))

    def delete(self, keys: Iterable[str]) -> int:
        if not self.untrusted:
            self._check_log()
        if self.untrusted or self.read_only:
            return 0
        return maintenance.delete(self, keys)

    def clear(self) -> int:
        if self.untrusted or self.read_only:
            return 0
        return self.delete(self.index.keys())

    def evict_to(self, max_bytes: int) -> int:
        if self.untrusted or self.read_only:
            return 0
        # down to 98 %: eviction runs once per several saves, in batches short enough not
        # to stall the one save that triggers them
        victims = self.index.lru_victims(max_bytes, int(max_bytes * 0.98))
        return self.delete(victims) if victims else 0

    # -- single flight ----------------------------------------------------------------
    def try_claim(self, key: str, owner: str, ttl: float) -> bool:
        return True if self.untrusted else self.index.try_claim(key, owner, ttl)

    def take_over_claim(self, key: str, owner: str, ttl: float, stale: str) -> bool:
        return True if self.untrusted else self.index.take_over(key, owner, ttl, stale)

    def try_claim_many(self, keys: list[str], owner: str, ttl: float) -> set[str]:
        return set(keys) if self.untrusted else self.index.try_claim_many(keys, owner, ttl)

    def release_many(self, keys: list[str], owner: str) -> None:
        if not self.untrusted:
            self.index.release_many(keys, owner)

    def release(self, key: str, owner: str) -> None:
        if not self.untrusted:
            self.index.release(key, owner)

    def claim_owner(self, key: str) -> str | None:
        return None if self.untrusted else self.index.claim_owner(key)

    # -- maintenance ------------------------------------------------------------------
    def verify(self, repair: bool = True) -> VerifyReport:
        """Check every entry's MACs and size; find rows without blobs and files without rows."""
        if self.untrusted:
            return VerifyReport(bad=[], untrusted=self.untrusted)
        return maintenance.verify(self, repair)

    def close(self) -> None:
        if self.index is not None:
            self.index.close()

    def spec(self) -> tuple[Any, ...]:
        """``("disk", path, key file or None)``: workers reopen it with the same key file."""
        return ("disk", self.location, self.key_file)

    def __repr__(self) -> str:
        return f"DiskStore({self.location!r})"


def _rmdir_quiet(p: Path) -> None:
    try:
        p.rmdir()
    except OSError:
        pass


def _index_lost(store: DiskStore, index_path: Path) -> bool:
    """The index file is gone or shorter than a SQLite header while blob files exist."""
    try:
        if index_path.stat().st_size >= 100:
            return False
    except FileNotFoundError:
        pass
    return any(sub for sub, _, _ in store.files.scan("blobs"))


def _open_disk(path: str, key_file: str | None = None) -> DiskStore:
    return DiskStore(path, trust=key_file)


register_store("disk", _open_disk)
