"""The one digest function every key and checksum goes through: BLAKE3.

Keys must never collide, not even for an adversary who crafts inputs: a
non-cryptographic hash (xxh3) was collided by a crafted pair of float arrays,
and the cache then served one's result for the other. BLAKE3 is a
cryptographic hash that still runs at several GB/s per core and spreads a
large buffer over all cores (``max_threads=AUTO``): about 4.8 GB/s on one
core, 9.5 GB/s on two, roughly linear in cores until memory bandwidth caps it.

Keys and checksums are its first 128 bits (32 hex characters): finding any
two inputs with one key then takes about 2**64 hash evaluations (the generic
birthday bound) and a second input for a *given* key about 2**128; BLAKE3 has
no known shortcut below either. Sub-digests (dict items, set members, large
buffers) keep the full 256 bits.

A large buffer (>= 64 KiB: array contents, Arrow buffers) enters a key as the
256-bit BLAKE3 digest of its bytes, hashed by a fresh hasher
(:func:`feed_buffer`; on all cores from 1 MiB on). That is BLAKE3's own tree
construction one level up, and it is faster: a fresh hasher splits the buffer
into the largest aligned subtrees and spreads them over every core, while a
hasher that has already taken a few tag bytes must ramp up through small
serial subtrees first (measured here: 3.1 ms instead of 3.9 ms for the 41 MB
of a 1,000,000-row frame on 2 cores; 8.5 µs instead of 16 µs for 64 KiB).

Examples
--------
>>> d = new_digest(); _ = d.update(b"abc"); len(d.hexdigest())
32
>>> digest_bytes(b"abc") == digest_bytes(b"abc")
True
>>> digest_bytes(b"abc") == new_blake3(b"abc").hexdigest(16)
True
>>> d = new_digest(); feed_buffer(d, bytes(2**20)); len(d.hexdigest())
32
"""

from __future__ import annotations

import os
from typing import Any

from blake3 import blake3 as new_blake3

__all__ = ["BIG_BUFFER", "DIGEST_HEX_LEN", "DIGEST_NAME", "Digest", "digest_bytes", "digest_small",
           "feed_buffer", "new_blake3", "new_digest"]

#: Length of every key and checksum, in hex characters (128 bits).
DIGEST_HEX_LEN = 32
#: What produced every key: stated in the docs and in lineage records.
DIGEST_NAME = "blake3-128"

# blake3 splits one large update() over this many threads; small updates stay serial.
_THREADS = new_blake3.AUTO
#: Buffers of at least this many bytes enter a key as their own 256-bit digest (see above).
BIG_BUFFER = 1 << 16
# ... hashed on all cores from this size on; below it one thread is faster (no pool hand-off)
_PARALLEL_BUFFER = 1 << 20


def _after_fork_in_child() -> None:
    # blake3's thread pool does not survive fork(): its worker threads are gone in the child,
    # and a multi-threaded update there would wait for them forever. A forked child (a
    # ProcessPoolExecutor worker, a crash-test writer) hashes on one thread; the digest is
    # the same whatever the thread count.
    global _THREADS
    _THREADS = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Digest:
    """A streaming BLAKE3 digest: ``update(buffer)``, ``hexdigest()``, ``digest()``.

    ``update`` is the hasher's own bound method (no Python frame per update:
    keys are fed in many small pieces); ``hexdigest`` returns 32 hex characters.

    Examples
    --------
    >>> d = Digest(); _ = d.update(b"a"); _ = d.update(b"bc")
    >>> d.hexdigest() == digest_bytes(b"abc")
    True
    """

    __slots__ = ("_h", "active", "update")

    def __init__(self) -> None:
        self._h = new_blake3(max_threads=_THREADS)
        self.update = self._h.update
        self.active: dict[int, int] | None = None  # containers being hashed (cycle detection)

    def hexdigest(self) -> str:
        """The 128-bit digest as 32 hex characters."""
        return self._h.hexdigest(16)

    def digest(self) -> bytes:
        """The full 256-bit digest (for sub-digests fed into another digest)."""
        return self._h.digest()


def new_digest() -> Digest:
    """Return a fresh streaming digest (see :class:`Digest`)."""
    return Digest()


def digest_bytes(data: Any) -> str:
    """Hex digest (32 characters) of one buffer (bytes, memoryview or C-contiguous array)."""
    return new_blake3(data, max_threads=_THREADS).hexdigest(16)


def digest_small(data: bytes) -> str:
    """:func:`digest_bytes` of a short ``bytes`` (a key's joined pieces), on this thread.

    The same 32 hex characters; one thread and no keyword to parse, because a
    buffer of a few hundred bytes never reaches the thread pool anyway.

    Examples
    --------
    >>> digest_small(b"node-abc") == digest_bytes(b"node-abc")
    True
    """
    return new_blake3(data).digest(16).hex()


def feed_buffer(d: Any, raw: Any) -> None:
    """Feed one contiguous buffer's bytes into ``d``: inline, or as its digest when large.

    The caller has already fed what fixes the buffer's length (dtype and
    shape, or an explicit length), so the two forms cannot be confused: a
    buffer of ``n >= BIG_BUFFER`` (64 KiB) bytes is always fed as ``b"H"``
    plus the 32-byte BLAKE3 digest of its bytes, computed by a fresh hasher
    (on all cores from 1 MiB on); a smaller one is fed as its bytes. No copy
    in either case.

    Examples
    --------
    >>> a, b = new_digest(), new_digest()
    >>> feed_buffer(a, bytes(BIG_BUFFER)); _ = b.update(b"H" + new_blake3(bytes(BIG_BUFFER)).digest())
    >>> a.hexdigest() == b.hexdigest()
    True
    """
    n = memoryview(raw).nbytes
    if n >= BIG_BUFFER:
        d.update(b"H")
        d.update(new_blake3(raw, max_threads=_THREADS if n >= _PARALLEL_BUFFER else 1).digest())
    else:
        d.update(raw)
