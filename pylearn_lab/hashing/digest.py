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
no known shortcut below either. Sub-digests (dict items, set members) keep the
full 256 bits.

Examples
--------
>>> d = new_digest(); _ = d.update(b"abc"); len(d.hexdigest())
32
>>> digest_bytes(b"abc") == digest_bytes(b"abc")
True
>>> digest_bytes(b"abc") == new_blake3(b"abc").hexdigest(16)
True
"""

from __future__ import annotations

import os
from typing import Any

from blake3 import blake3 as new_blake3

__all__ = ["DIGEST_HEX_LEN", "DIGEST_NAME", "Digest", "digest_bytes", "new_blake3", "new_digest"]

#: Length of every key and checksum, in hex characters (128 bits).
DIGEST_HEX_LEN = 32
#: What produced every key: stated in the docs and in lineage records.
DIGEST_NAME = "blake3-128"

# blake3 splits one large update() over this many threads; small updates stay serial.
_THREADS = new_blake3.AUTO


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
