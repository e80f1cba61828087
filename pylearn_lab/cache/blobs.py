"""The blob seam: immutable blobs put, published, read back verified.

A :class:`BlobStore` keeps the bytes of entries too big for an index row. Its
promises: a blob is written invisibly (:meth:`~BlobStore.write` returns a
temporary name), becomes visible whole under its key (:meth:`~BlobStore.publish`,
which the store calls inside the index's write transaction), never changes
after, and :meth:`~BlobStore.get` hands out only bytes whose size and payload
MAC are the ones the signed row states. It does not know what the bytes mean
(:mod:`~pylearn_lab.cache.codec` does) nor which keys exist (the
:class:`~pylearn_lab.cache.index.Index` does).

:class:`LocalBlobs` is the one that ships: files under a cache directory,
every call confined to it (:mod:`~pylearn_lab.cache.confine`: names from the
key alone, links refused), read as read-only memory maps (zero copy), the MAC
checked once per process per (inode, mtime, ctime, size) -- after checking the
file has exactly the signed size.

Examples
--------
>>> import tempfile
>>> from pylearn_lab.cache.auth import Signer
>>> from pylearn_lab.cache.confine import Confined
>>> from pylearn_lab.cache.serialize import encode, layout
>>> files = Confined(tempfile.mkdtemp()); files.ensure_dirs()
>>> signer = Signer(b"k" * 32)
>>> head, payload, mac = encode(list(range(3)), signer.payload_hasher)
>>> parts, size = layout({**head, "checksum": mac}, payload)
>>> blobs = LocalBlobs(files, signer)
>>> blobs.publish(blobs.write("a" * 32, parts), "a" * 32)
>>> blobs.get("a" * 32, size, mac).nbytes == size
True
>>> isinstance(blobs, BlobStore)
True
"""

from __future__ import annotations

import mmap
import os
import secrets
import stat
import threading
from typing import Protocol, runtime_checkable

from ..errors import IntegrityError
from .auth import Signer
from .confine import Confined
from .serialize import checksum_with_header, read_header

__all__ = ["BlobStore", "LocalBlobs"]

#: (root, key) -> the (inode, mtime, ctime, size, MAC) of a file whose MAC verified
_VERIFIED: dict[tuple[str, str], tuple[int, int, int, int, str]] = {}
_VERIFIED_LOCK = threading.Lock()
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


@runtime_checkable
class BlobStore(Protocol):
    """Immutable blobs by key (see the module docstring for the promises)."""

    def write(self, key: str, parts: list[memoryview]) -> str:
        """Write a blob invisibly; returns the temporary name to publish or discard."""

    def publish(self, tmp: str, key: str) -> None:
        """Make the written blob ``tmp`` visible as ``key``'s (atomically)."""

    def discard(self, tmp: str) -> None:
        """Remove a written, unpublished blob (no error when it is gone)."""

    def get(self, key: str, size: int, checksum: str) -> memoryview:
        """The bytes of ``key``, verified against the signed ``size`` and ``checksum``.

        Raises ``FileNotFoundError`` when absent, ``IntegrityError`` when they differ.
        """

    def remove(self, key: str) -> None:
        """Remove ``key``'s blob (no error when it is gone)."""


class LocalBlobs:
    """:class:`BlobStore` over the ``blobs/`` and ``tmp/`` folders of a cache directory.

    Parameters
    ----------
    files : Confined
        The confined file calls of the cache directory.
    signer : Signer
        Makes the payload MACs the rows state.
    durable : bool
        ``fsync`` each blob before it can be published.
    """

    def __init__(self, files: Confined, signer: Signer, durable: bool = False) -> None:
        self.files = files
        self.signer = signer
        self.durable = durable
        self._root = str(files.root)

    def write(self, key: str, parts: list[memoryview]) -> str:
        tmp, fd = self.files.write_tmp(key, secrets.token_hex(4))
        try:
            with os.fdopen(fd, "wb", closefd=True) as f:
                for p in parts:
                    f.write(p)
                if self.durable:
                    f.flush()
                    os.fsync(f.fileno())
        except BaseException:
            self.files.unlink_tmp(tmp)
            raise
        return tmp

    def publish(self, tmp: str, key: str) -> None:
        self.files.publish(tmp, key)

    def discard(self, tmp: str) -> None:
        self.files.unlink_tmp(tmp)

    def remove(self, key: str) -> None:
        self.files.unlink_blob(key)

    def get(self, key: str, size: int, checksum: str) -> memoryview:
        fd = self.files.open_blob(key)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size != size:
                # checked before mapping: a shorter file would fault (SIGBUS) when read
                raise IntegrityError(
                    f"blob of {key[:12]} has {st.st_size} bytes, its signed row says {size} "
                    "(truncated or replaced); it was dropped and will be recomputed")
            # ctime too: an in-place rewrite can restore mtime (os.utime) but never ctime,
            # so altered bytes are always checked again before anything unpickles them.
            stamp = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, checksum)
            with _VERIFIED_LOCK:
                known = _VERIFIED.get((self._root, key)) == stamp
            flags = mmap.MAP_SHARED | (0 if known else _POPULATE)
            mm = mmap.mmap(fd, 0, flags=flags, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        data = memoryview(mm)
        if not known:
            if checksum_with_header(data, read_header(data), self.signer.payload_hasher) != checksum:
                raise IntegrityError(
                    f"blob of {key[:12]} failed its checksum (MAC: altered or corrupted on disk); it was "
                    "refused unread, dropped and will be recomputed")
            with _VERIFIED_LOCK:
                _VERIFIED[(self._root, key)] = stamp
        return data
