"""The ``Store`` protocol: bytes in, bytes out, plus a metadata row.

A store knows nothing of Python objects: :class:`~pylearn_lab.cache.Cache`
serialises values into blob parts and hands them over with a record dict.
Stores promise atomic writes (an entry is visible whole or not at all), safe
concurrent writers (first writer wins, later ones are no-ops), and that
:meth:`Store.get` never returns bytes that fail their checksum or signature.

Two stores ship: :class:`MemoryStore` (a dict, for tests and throwaway
sessions) and :class:`~pylearn_lab.cache.disk.DiskStore` (SQLite index + blob
files, the default).

Examples
--------
>>> s = MemoryStore()
>>> s.put("k" * 32, {"kind": "raw", "frames": [4]}, [memoryview(b"data")], "c", {"func": "f"})
True
>>> s.get("k" * 32).kind
'raw'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["Store", "StoredEntry", "MemoryStore", "VerifyReport", "register_store", "open_store",
           "SCOPES"]

#: Who can open the same store: this process only, processes of this host (a local
#: directory), or processes on other hosts too (a shared file system, a server).
SCOPES = ("process", "host", "shared")


@dataclass
class StoredEntry:
    """What :meth:`Store.get` returns: the blob bytes and the record row.

    ``header`` is the blob header already parsed by the store, with the offset
    of the first frame (``read_header(data)``), when the store had to read it to
    check the bytes; :func:`~pylearn_lab.cache.serialize.unpack` then does not
    parse it again.
    """

    key: str
    kind: str
    size: int
    data: memoryview
    record: dict[str, Any]
    header: tuple[dict[str, Any], int] | None = None


@dataclass
class VerifyReport:
    """Outcome of :meth:`Store.verify`.

    Attributes
    ----------
    checked : int
        Entries whose blob was read and checksummed.
    bad : list of str
        Keys whose entry failed (dropped when repairing).
    orphans : int
        Blob or temp files with no index row (removed when repairing).
    missing : int
        Rows whose blob file is gone (dropped when repairing).
    rebuilt : bool
        The index itself was damaged and was rebuilt from the blob files.
    untrusted : str
        Why the directory is not trusted (made under another key, deletion log
        altered); nothing was checked or repaired then.
    """

    checked: int = 0
    bad: list[str] = field(default_factory=list)
    orphans: int = 0
    missing: int = 0
    repaired: bool = False
    rebuilt: bool = False
    untrusted: str = ""

    @property
    def ok(self) -> bool:
        """True when nothing was wrong."""
        return (not self.bad and not self.orphans and not self.missing and not self.rebuilt
                and not self.untrusted)

    def __str__(self) -> str:
        state = "ok" if self.ok else ("repaired" if self.repaired else "PROBLEMS FOUND")
        rebuilt = "; the damaged index was rebuilt from the blob files" if self.rebuilt else ""
        if self.untrusted:
            return f"cache verify: NOT TRUSTED — {self.untrusted}; nothing was checked or changed"
        return (f"cache verify: {state} — {self.checked} entries checked, "
                f"{len(self.bad or [])} bad, {self.missing} missing blobs, {self.orphans} orphan files"
                f"{rebuilt}")


@runtime_checkable
class Store(Protocol):
    """Storage back end of the cache (see the module docstring for the promises)."""

    location: str
    #: one of :data:`SCOPES`; a worker may open the store itself unless ``"process"``
    scope: str

    def spec(self) -> tuple[Any, ...] | None:
        """A picklable description :func:`open_store` reopens in another process (None
        when the store cannot be shared: ``scope == "process"``)."""

    def get(self, key: str) -> StoredEntry | None:
        """The entry, or None. Raises IntegrityError (after dropping it) when it is bad."""

    def put(self, key: str, head: dict[str, Any], payload: list[memoryview], checksum: str,
            record: dict[str, Any]) -> bool:
        """Store atomically; False when ``key`` was already present (nothing changed).

        ``head`` (JSON-able, with ``"kind"``) and ``payload`` come from
        :func:`~pylearn_lab.cache.serialize.encode`; ``checksum`` covers the payload.
        """

    def contains(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` that are stored."""

    def delete(self, keys: Iterable[str]) -> int:
        """Remove entries; returns how many existed."""

    def clear(self) -> int:
        """Remove every entry; returns how many existed."""

    def records(self, func: str | None = None, keys: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Record rows (no blob data), optionally for one function or some keys."""

    def stats(self) -> tuple[int, int]:
        """``(entries, bytes)``."""

    def evict_to(self, max_bytes: int) -> int:
        """Drop least-recently-used entries until at most ``max_bytes`` remain."""

    def try_claim(self, key: str, owner: str, ttl: float) -> bool:
        """Claim ``key`` for computing (single flight); True if now ours."""

    def release(self, key: str, owner: str) -> None:
        """Give a claim back."""

    def claim_owner(self, key: str) -> str | None:
        """Who holds a live claim on ``key``."""

    def take_over_claim(self, key: str, owner: str, ttl: float, stale: str) -> bool:
        """Take ``key``'s claim from ``stale`` (a dead holder) when ``stale`` still holds it."""

    def try_claim_many(self, keys: list[str], owner: str, ttl: float) -> set[str]:
        """:meth:`try_claim` for many keys at once (one transaction); the keys now ours."""

    def release_many(self, keys: list[str], owner: str) -> None:
        """:meth:`release` for many keys at once."""

    def verify(self, repair: bool = True) -> VerifyReport:
        """Check every entry; drop bad ones and stray files when ``repair``."""

    def close(self) -> None:
        """Flush pending bookkeeping and release resources."""


_OPENERS: dict[str, Any] = {}
_OPENERS_LOCK = threading.Lock()


def register_store(kind: str, opener: Any) -> None:
    """Make ``open_store((kind, *args))`` call ``opener(*args)`` (a store class or factory).

    Examples
    --------
    >>> register_store("memory-demo", lambda: MemoryStore())
    >>> open_store(("memory-demo",)).location
    ':memory:'
    """
    with _OPENERS_LOCK:
        _OPENERS[kind] = opener


def open_store(spec: tuple[Any, ...]) -> "Store":
    """Reopen the store a :meth:`Store.spec` describes (e.g. in a worker process).

    Raises
    ------
    ValueError
        When no store kind of that name is registered.
    """
    with _OPENERS_LOCK:
        opener = _OPENERS.get(spec[0]) if spec else None
        known = sorted(_OPENERS)
    if opener is None:
        raise ValueError(f"open_store expected a spec whose first item is one of {known}, "
                         f"received {spec!r:.80}; register the store kind with register_store().")
    return opener(*spec[1:])  # type: ignore[no-any-return]


class MemoryStore:
    """A dict-backed :class:`Store` (process-local; nothing survives the process)."""

    scope = "process"

    def spec(self) -> None:
        return None

    def __init__(self) -> None:
        self.location = ":memory:"
        self._rows: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self._claims: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> StoredEntry | None:
        with self._lock:
            row = self._rows.get(key)
            if row is None:
                return None
            row[1]["last_access"] = time.time()
        data, rec = row
        return StoredEntry(key, rec["kind"], rec["size"], memoryview(data), dict(rec))

    def put(self, key: str, head: dict[str, Any], payload: list[memoryview], checksum: str,
            record: dict[str, Any]) -> bool:
        from .serialize import layout

        parts, size = layout({**head, "checksum": checksum}, payload)
        kind = head["kind"]
        data = b"".join(parts)
        with self._lock:
            if key in self._rows:
                return False
            self._rows[key] = (data, {**record, "key": key, "kind": kind, "size": size,
                                      "last_access": time.time()})
        return True

    def contains(self, keys: Iterable[str]) -> set[str]:
        with self._lock:
            return {k for k in keys if k in self._rows}

    def delete(self, keys: Iterable[str]) -> int:
        with self._lock:
            return sum(self._rows.pop(k, None) is not None for k in list(keys))

    def clear(self) -> int:
        with self._lock:
            n = len(self._rows)
            self._rows.clear()
        return n

    def records(self, func: str | None = None, keys: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        with self._lock:
            rows = [dict(r) for _, r in self._rows.values()]
        wanted = set(keys) if keys is not None else None
        for r in rows:
            if (func is None or r.get("func") == func) and (wanted is None or r["key"] in wanted):
                yield r

    def stats(self) -> tuple[int, int]:
        with self._lock:
            return len(self._rows), sum(r["size"] for _, r in self._rows.values())

    def evict_to(self, max_bytes: int) -> int:
        with self._lock:
            order = sorted(self._rows, key=lambda k: self._rows[k][1]["last_access"])
            total = sum(r["size"] for _, r in self._rows.values())
            dropped = 0
            for k in order:
                if total <= max_bytes:
                    break
                total -= self._rows.pop(k)[1]["size"]
                dropped += 1
        return dropped

    def try_claim(self, key: str, owner: str, ttl: float) -> bool:
        now = time.time()
        with self._lock:
            held = self._claims.get(key)
            if held is None or held[0] == owner or held[1] < now:
                self._claims[key] = (owner, now + ttl)
                return True
            return False

    def release(self, key: str, owner: str) -> None:
        with self._lock:
            if self._claims.get(key, ("",))[0] == owner:
                del self._claims[key]

    def claim_owner(self, key: str) -> str | None:
        with self._lock:
            held = self._claims.get(key)
        return held[0] if held and held[1] >= time.time() else None

    def take_over_claim(self, key: str, owner: str, ttl: float, stale: str) -> bool:
        with self._lock:
            held = self._claims.get(key)
            if held is not None and held[0] != stale:
                return False
            self._claims[key] = (owner, time.time() + ttl)
            return True

    def try_claim_many(self, keys: list[str], owner: str, ttl: float) -> set[str]:
        return {k for k in keys if self.try_claim(k, owner, ttl)}

    def release_many(self, keys: list[str], owner: str) -> None:
        for k in keys:
            self.release(k, owner)

    def verify(self, repair: bool = True) -> VerifyReport:
        return VerifyReport(checked=len(self._rows), bad=[])

    def close(self) -> None:
        pass
