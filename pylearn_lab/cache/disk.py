"""The on-disk store: a SQLite index (WAL) plus immutable blob files.

Layout of a cache directory (mode 0700)::

    index.sqlite        one row per entry: the experiment record, checksum, MAC,
                        and the bytes themselves when small (no file open on a hit)
    blobs/ab/<key>-<c>-<r>  large values, written once, never modified
    tmp/                blobs being written (temp file, then rename)
    secret.key          32 random bytes (0600) that sign every row

Write protocol: blob to ``tmp/`` -> ``os.replace`` into ``blobs/`` -> row
inserted (``INSERT OR IGNORE``). A process killed at any point leaves either
nothing visible or a whole entry; stray files are invisible and removed by
:meth:`DiskStore.verify`. Concurrent writers of one key: the first row wins,
the others remove their own blob. Blob names are unique per write (checksum
plus a random tag), so two writers never touch each other's file, and a delete
never removes the blob a concurrent writer of the same key just made.

Read protocol: one indexed ``SELECT``; the row's MAC is checked before
anything else; inline bytes are checksummed on every read, blob files once
per process per (inode, mtime, ctime, size) and then memory-mapped (zero copy).

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

import logging
import mmap
import os
import secrets
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import CacheCorruptError, CacheError, IntegrityError
from .auth import SECRET_NAME, Signer, load_or_create_secret
from .serialize import checksum_with_header, read_header
from .serialize import payload_checksum as _payload_checksum
from .sqlite_index import INDEX_NAME, SqliteIndex
from .store import StoredEntry, VerifyReport

__all__ = ["DiskStore", "INLINE_MAX"]

log = logging.getLogger(__name__)

#: Values up to this many bytes live in the index row (a hit opens no file).
INLINE_MAX = 64 * 1024

_VERIFIED: dict[str, tuple[int, int, int, int]] = {}  # blob path -> (ino, mtime, ctime, size)
_VERIFIED_LOCK = threading.Lock()
_COMMITTING: set[str | None] = set()  # blob names this process is writing (not yet indexed)


class DiskStore:
    """SQLite + blob-file :class:`~pylearn_lab.cache.store.Store`.

    Parameters
    ----------
    path : str or Path
        The cache directory (created 0700 if missing).
    durable : bool
        ``fsync`` blobs before they become visible (survives power loss, slower).
        A killed process never needs it.
    index : object, optional
        An index with :class:`SqliteIndex`'s interface to use instead of the
        directory's own (a team cache's
        :class:`~pylearn_lab.cache.postgres_index.PostgresIndex`).
    """

    def __init__(self, path: str | os.PathLike[str], durable: bool = False, *,
                 index: Any = None) -> None:
        self.root = Path(path).expanduser().absolute()
        self.location = str(self.root)
        self.durable = durable
        self.read_only = False
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            (self.root / "blobs").mkdir(mode=0o700, exist_ok=True)
            (self.root / "tmp").mkdir(mode=0o700, exist_ok=True)
        except FileExistsError:
            raise CacheError(
                f"cache path {self.root} exists and is not a directory. Expected a directory "
                "(or a path that can be created); pass another path or set PYLEARN_CACHE."
            ) from None
        except OSError as exc:
            if not self.root.is_dir():
                raise CacheError(
                    f"cannot create the cache directory {self.root}: {exc.strerror}. Pass a "
                    "writable path to Cache(path=...) or set PYLEARN_CACHE, or use cache=False."
                ) from None
            self.read_only = True
        if not os.access(self.root, os.W_OK):
            self.read_only = True
        try:
            self._signer = Signer(load_or_create_secret(self.root))
        except CacheError:
            raise  # altered, or another user's: its message says what to do
        except OSError as exc:
            if self.read_only and not (self.root / SECRET_NAME).exists():
                # A read-only directory that never held a cache: nothing there could be
                # authenticated, so it serves no entry (a throwaway secret verifies none)
                # and stores none (put() refuses) -- runs go on uncached.
                self._signer = Signer(secrets.token_bytes(32))
            else:
                raise CacheError(
                    f"cannot read or create the secret of the cache directory {self.root}: {exc}. "
                    "Use a cache directory you own (PYLEARN_CACHE)."
                ) from None
        if index is not None:  # a server index: nothing of it lives in the directory
            self.index = index
            return
        index_path = self.root / INDEX_NAME
        if not self.read_only and _index_lost(index_path):
            # deleted or cut to less than SQLite's header (which SQLite would take for a
            # new empty database): every blob would be orphaned -- rebuild from them instead
            self._rebuild_index(index_path)
        self.index = SqliteIndex(index_path, read_only=self.read_only,
                                 on_corrupt=self._rebuild_index)

    # -- reading --------------------------------------------------------------------
    def get(self, key: str) -> StoredEntry | None:
        row = self.index.fetch(key)
        if row is None:
            return None
        kind, size, checksum, blob, inline, mac = row
        if not self._signer.verify(mac, key, kind, checksum, blob):
            self._drop(key, mac, blob)
            raise IntegrityError(
                f"cache entry {key[:12]} has no valid signature: it was not written by this "
                "cache (planted or altered). It was refused unread and removed; it will be "
                "recomputed."
            )
        header = None
        if inline is not None:
            data = memoryview(inline)
            # _payload_checksum(data), keeping the parsed header for unpack (a small hit
            # then parses its JSON header once, not twice)
            header = read_header(data)
            if checksum_with_header(data, header) != checksum:
                self._drop(key, mac, blob)
                raise IntegrityError(f"cache entry {key[:12]} failed its checksum; it will be recomputed")
        else:
            path = self._blob_path(blob)
            try:
                data = self._map_verified(path, checksum)
            except FileNotFoundError:
                if self._drop(key, mac, None):  # else: deleted meanwhile, a plain miss
                    log.warning("cache entry %s lost its blob file; it will be recomputed", key[:12])
                return None
            except IntegrityError:
                self._drop(key, mac, blob)
                raise
        self.index.touch(key)
        return StoredEntry(key, kind, size, data, {}, header)

    def _map_verified(self, path: Path, checksum: str) -> memoryview:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size == 0:
                raise IntegrityError(f"empty blob {path.name}; it will be recomputed")
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        data = memoryview(mm)
        # ctime too: an in-place rewrite can restore mtime (os.utime) but never ctime,
        # so altered bytes are always checksummed again before anything unpickles them.
        stamp = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
        with _VERIFIED_LOCK:
            known = _VERIFIED.get(str(path)) == stamp
        if not known:
            if _payload_checksum(data) != checksum:
                raise IntegrityError(
                    f"blob {path.name} failed its checksum (corrupted on disk); it was dropped "
                    "and will be recomputed"
                )
            with _VERIFIED_LOCK:
                _VERIFIED[str(path)] = stamp
        return data

    def contains(self, keys: Iterable[str]) -> set[str]:
        return self.index.present(keys)

    def records(self, func: str | None = None, keys: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        return self.index.records(func, keys)

    def stats(self) -> tuple[int, int]:
        return self.index.stats()

    # -- writing --------------------------------------------------------------------
    def put(self, key: str, head: dict[str, Any], payload: list[memoryview], checksum: str,
            record: dict[str, Any]) -> bool:
        if self.read_only:
            raise CacheError(f"the cache directory {self.root} is read-only; results are not stored")
        from .serialize import layout

        kind = head["kind"]
        payload_size = sum(p.nbytes for p in payload)
        # pid in the name: verify() leaves the blobs of live writers alone
        blob = (None if payload_size <= INLINE_MAX else
                f"{key[:2]}/{key}-{checksum[:12]}-{os.getpid()}-{secrets.token_hex(4)}")
        mac = self._signer.sign(key, kind, checksum, blob)
        # The header carries the MAC and the record, so the index can be rebuilt from blobs.
        parts, size = layout({**head, "checksum": checksum, "mac": mac,
                              "meta": {**record, "key": key}}, payload)
        inline: bytes | None = None
        if blob is None:
            inline = b"".join(parts)
        else:
            _COMMITTING.add(blob)
        try:
            if blob is not None:
                self._write_blob(blob, parts)
            inserted = self.index.insert(key, kind, size, checksum, blob, inline, mac, record)
        except Exception:
            # e.g. the disk filled up under the index: free the blob's space now rather
            # than leave an orphan for verify() (the name is ours alone)
            if blob is not None:
                self._blob_path(blob).unlink(missing_ok=True)
            raise
        finally:
            _COMMITTING.discard(blob)
        if not inserted and blob is not None:
            self._blob_path(blob).unlink(missing_ok=True)  # the first writer won
        return inserted

    def adopt(self, entries: list[dict[str, Any]]) -> set[str]:
        """Index entries computed elsewhere (cluster engines), in one transaction.

        Each entry has ``key``, ``checksum``, ``record`` and either ``blob``,
        ``kind``, ``size`` (a blob file an engine already wrote into
        ``blobs/``) or ``head`` and ``payload`` (encoded bytes: stored inline
        or as a blob written here). This store signs every row itself: a
        receipt names bytes, it cannot vouch for them -- a blob is checksummed
        on its first read like any other. Returns the keys indexed now; for
        keys already indexed the engine's blob is removed (the first writer won).
        Also locates inputs for engines: see :meth:`locate`.
        """
        if self.read_only:
            raise CacheError(f"the cache directory {self.root} is read-only; results are not stored")
        from .serialize import layout

        rows: list[tuple[Any, ...]] = []
        written: list[str] = []
        for e in entries:
            key, checksum, rec = e["key"], e["checksum"], e["record"]
            if "payload" in e:
                kind, payload = e["head"]["kind"], [memoryview(e["payload"])]
                blob = (None if len(e["payload"]) <= INLINE_MAX else
                        f"{key[:2]}/{key}-{checksum[:12]}-{os.getpid()}-{secrets.token_hex(4)}")
                mac = self._signer.sign(key, kind, checksum, blob)
                parts, size = layout({**e["head"], "checksum": checksum, "mac": mac,
                                      "meta": {**rec, "key": key}}, payload)
                if blob is not None:
                    self._write_blob(blob, parts)
                    written.append(blob)
                rows.append((key, kind, size, checksum, blob,
                             b"".join(parts) if blob is None else None, mac, rec))
            else:
                blob, kind = e["blob"], e["kind"]
                written.append(blob)
                rows.append((key, kind, int(e["size"]), checksum, blob, None,
                             self._signer.sign(key, kind, checksum, blob), rec))
        try:
            inserted = self.index.insert_many(rows)
        except Exception:
            for b in written:
                self._blob_path(b).unlink(missing_ok=True)
            raise
        for key, _, _, _, blob, *_ in rows:
            if blob is not None and key not in inserted:
                self._blob_path(blob).unlink(missing_ok=True)
        return inserted

    def locate(self, keys: Iterable[str]) -> dict[str, tuple[str, str, str | None, bytes | None]]:
        """``key -> (kind, checksum, blob name, inline bytes)`` of the validly signed entries
        among ``keys``: what an engine needs to read them without the index."""
        out = {}
        for key in keys:
            row = self.index.fetch(key)
            if row is None:
                continue
            kind, _size, checksum, blob, inline, mac = row
            if self._signer.verify(mac, key, kind, checksum, blob):
                out[key] = (kind, checksum, blob, None if inline is None else bytes(inline))
        return out

    def _write_blob(self, name: str, parts: list[memoryview]) -> None:
        final = self._blob_path(name)
        final.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = self.root / "tmp" / f"{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb", closefd=True) as f:
                for p in parts:
                    f.write(p)
                if self.durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _blob_path(self, name: str | None) -> Path:
        return self.root / "blobs" / str(name)

    def _drop(self, key: str, mac: str, blob: str | None) -> bool:
        # Only the row that was examined: the key may have been stored again meanwhile.
        if self.read_only:
            return False
        dropped = self.index.delete_row(key, mac)
        if blob:
            self._blob_path(blob).unlink(missing_ok=True)
        return dropped

    def delete(self, keys: Iterable[str]) -> int:
        n, blobs = self.index.take(keys)
        for b in blobs:
            self._blob_path(b).unlink(missing_ok=True)
        return n

    def clear(self) -> int:
        return self.delete([r["key"] for r in self.index.records()])

    def evict_to(self, max_bytes: int) -> int:
        victims = self.index.lru_victims(max_bytes)
        return self.delete(victims) if victims else 0

    # -- single flight ----------------------------------------------------------------
    def try_claim(self, key: str, owner: str, ttl: float) -> bool:
        return self.index.try_claim(key, owner, ttl)

    def take_over_claim(self, key: str, owner: str, ttl: float, stale: str) -> bool:
        return self.index.take_over(key, owner, ttl, stale)

    def try_claim_many(self, keys: list[str], owner: str, ttl: float) -> set[str]:
        return self.index.try_claim_many(keys, owner, ttl)

    def release_many(self, keys: list[str], owner: str) -> None:
        self.index.release_many(keys, owner)

    def release(self, key: str, owner: str) -> None:
        self.index.release(key, owner)

    def claim_owner(self, key: str) -> str | None:
        return self.index.claim_owner(key)

    # -- maintenance ------------------------------------------------------------------
    def verify(self, repair: bool = True) -> VerifyReport:
        """Checksum every entry; find rows without blobs and files without rows."""
        report = VerifyReport(bad=[])
        known_blobs: set[str] = set()
        try:
            rows = self.index.all_rows()
        except CacheCorruptError:
            if not repair:
                raise
            # Damage past the header (a bad page): open found nothing wrong, a full scan did.
            self.index.close()
            self._rebuild_index(self.index.path)
            self.index = SqliteIndex(self.index.path, on_corrupt=self._rebuild_index)
            report.rebuilt = True
            rows = self.index.all_rows()
        for key, kind, size, checksum, blob, inline, mac in rows:
            report.checked += 1
            ok = self._signer.verify(mac, key, kind, checksum, blob)
            if ok and inline is not None:
                ok = _payload_checksum(memoryview(inline)) == checksum
            elif ok:
                path = self._blob_path(blob)
                known_blobs.add(str(blob))
                try:
                    with open(path, "rb") as f:
                        ok = _payload_checksum(memoryview(f.read())) == checksum
                except FileNotFoundError:
                    report.missing += 1
                    if repair:
                        self.index.delete_row(key, mac)
                    continue
                except IntegrityError:
                    ok = False
            if not ok:
                report.bad.append(key)
                if repair:
                    self._drop(key, mac, blob)
        candidates = {f"{p.parent.name}/{p.name}": p for p in (self.root / "blobs").glob("*/*")}
        strays = set(candidates) - known_blobs
        if strays:  # rows committed since the first read are not strays
            strays -= set(self.index.blob_names())
        for rel in sorted(strays):
            if _blob_writer_alive(rel):
                continue  # renamed into place, row about to be inserted
            report.orphans += 1
            if repair:
                candidates[rel].unlink(missing_ok=True)
        for path in (self.root / "tmp").glob("*.tmp"):
            if _writer_alive(path):
                continue
            report.orphans += 1
            if repair:
                path.unlink(missing_ok=True)
        report.repaired = repair and not report.ok
        return report

    def _rebuild_index(self, index_path: Path) -> None:
        """Move a corrupt index aside and rebuild it from blob headers."""
        from .serialize import read_header

        aside = index_path.with_name(f"{index_path.name}.corrupt-{int(time.time())}")
        moved = False
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(index_path) + suffix)
            if p.exists():
                os.replace(p, str(aside) + suffix)
                moved = True
        from .cache import CacheWarning  # (cache.py imports this module)

        what = f"was corrupt; it was moved to {aside.name} and" if moved else "was missing; it was"
        warnings.warn(
            f"the cache index in {self.root} {what} rebuilt from the blob files (small inline "
            "entries are recomputed when needed).",
            CacheWarning, stacklevel=3,
        )
        fresh = SqliteIndex(index_path, read_only=False, on_corrupt=None)
        for path in (self.root / "blobs").glob("*/*"):
            try:
                data = memoryview(path.read_bytes())
                head, _ = read_header(data)
                meta = head.get("meta") or {}
                key = meta.get("key") or path.name.split("-")[0]
                checksum = head.get("checksum", "")
                rel = f"{path.parent.name}/{path.name}"
                if _payload_checksum(data) != checksum or not self._signer.verify(
                    head.get("mac"), key, head["kind"], checksum, rel
                ):
                    path.unlink(missing_ok=True)
                    continue
                fresh.insert(key, head["kind"], len(data), checksum, rel, None,
                             head["mac"], {k: v for k, v in meta.items() if k != "key"})
            except (OSError, IntegrityError, KeyError, ValueError):
                path.unlink(missing_ok=True)
        fresh.close()

    def close(self) -> None:
        self.index.close()

    def __repr__(self) -> str:
        return f"DiskStore({self.location!r})"


def _index_lost(index_path: Path) -> bool:
    """The index file is gone or shorter than a SQLite header while blob files exist."""
    try:
        if index_path.stat().st_size >= 100:
            return False
    except FileNotFoundError:
        pass
    return next(index_path.parent.joinpath("blobs").glob("*/*"), None) is not None


def _blob_writer_alive(rel: str) -> bool:
    """A blob (``ab/<key>-<c>-<pid>-<r>``) whose writer may still insert its row."""
    if rel in _COMMITTING:
        return True
    try:
        pid = int(rel.split("-")[-2])
    except (ValueError, IndexError):
        return False
    return pid != os.getpid() and _pid_alive(pid)


def _writer_alive(tmp: Path) -> bool:
    """A temp file whose writer process still runs is being written, not stray."""
    try:
        pid = int(tmp.name.split(".")[-3])
    except (ValueError, IndexError):
        return False
    if pid == os.getpid():
        return True
    return _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

