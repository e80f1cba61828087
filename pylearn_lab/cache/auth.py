"""Entry authentication: keyed BLAKE3 over every byte a reader relies on.

Two MACs protect an entry, both keyed with a secret that lives outside the
cache directory (:mod:`~pylearn_lab.cache.keyring`):

* the **payload MAC** (the blob's ``checksum``) covers every byte of the
  stored value -- the pickle stream or the raw array frame, its out-of-band
  buffers, padding -- and the header fields that say how to decode them
  (kind, dtype, shape, frame sizes). It replaces a fast non-cryptographic
  checksum: without the key nobody can make other bytes match it;
* the **row MAC** covers the whole index row: key, kind, sizes, the payload
  MAC, whether the bytes are inline or in a file, the generation, the cache's
  identity and every record column (function, parameters, inputs, summary,
  times, host). An edited summary, a row moved to another key or another
  cache, or a row from an older generation fails it.

Examples
--------
>>> s = Signer(b"k" * 32)
>>> h = s.payload_hasher(); h.update(b"data")
>>> len(h.hexdigest())
64
>>> m = s.row_mac(["key", "pickle", 10])
>>> s.row_ok(m, ["key", "pickle", 10]), s.row_ok(m, ["key", "pickle", 11])
(True, False)
"""

from __future__ import annotations

import hmac
from typing import Any

import blake3

from .jsonenc import encoder

__all__ = ["Signer"]

# Domain separation: the same key signs payloads, rows, markers and key ids; a MAC made
# for one purpose must never verify as another.
_PAYLOAD = b"pylearn-lab payload v2\0"
_ROW = b"pylearn-lab row v2\0"
_TAG = b"pylearn-lab tag v2\0"
_THREADED = 8 << 20  # payloads from this size hash on all cores
_ROW_JSON = encoder()  # json.dumps(fields), set up once


class _PayloadHasher:
    """A keyed BLAKE3 on one thread for small data, on all cores once a large part comes.

    (Threads cost more than they save on small inputs, and the machine is shared:
    a small hit must not wake a thread pool.)
    """

    __slots__ = ("_h", "_key", "_pending")

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._h: Any = None
        self._pending: list[Any] = []

    def update(self, data: Any) -> None:
        if self._h is None:
            if memoryview(data).nbytes < _THREADED:
                self._pending.append(data)
                return
            self._start(blake3.blake3.AUTO)
        self._h.update(data)

    def _start(self, threads: int) -> None:
        self._h = blake3.blake3(_PAYLOAD, key=self._key, max_threads=threads)
        for part in self._pending:
            self._h.update(part)
        self._pending = []

    def hexdigest(self) -> str:
        if self._h is None:
            self._start(1)
        return str(self._h.hexdigest())


class Signer:
    """Makes and checks the MACs of one key (see the module docstring)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise ValueError("a cache key has 32 bytes")
        self._secret = secret
        self.key_id = self.tag("key-id")[:16]

    def payload_hasher(self) -> _PayloadHasher:
        """A fresh hasher for a payload MAC (``update`` then ``hexdigest``)."""
        return _PayloadHasher(self._secret)

    def row_mac(self, fields: list[Any]) -> str:
        """The MAC of an index row given as a list of JSON-able fields."""
        # json.dumps' text with its default options, byte for byte (every stored row's MAC
        # depends on it), from an encoder built once; ASCII output escapes every odd
        # character, lone surrogates included
        msg = _ROW_JSON(fields).encode()
        return blake3.blake3(_ROW + msg, key=self._secret).hexdigest()

    def row_ok(self, mac: str | None, fields: list[Any]) -> bool:
        """True when ``mac`` was made with this key for exactly these fields."""
        if not isinstance(mac, str) or not mac:
            return False
        return hmac.compare_digest(mac, self.row_mac(fields))

    def tag(self, text: str) -> str:
        """A MAC over a short text (cache markers, deletion log, key ids)."""
        return blake3.blake3(_TAG + text.encode("utf-8", "surrogatepass"),
                             key=self._secret).hexdigest()

    def tag_ok(self, mac: Any, text: str) -> bool:
        return isinstance(mac, str) and hmac.compare_digest(mac, self.tag(text))
