"""The index seam: rows, leases and queries of a cache, whatever database holds them.

An :class:`Index` holds one row per entry (the signed columns of
:data:`~pylearn_lab.cache.records.SIGNED_COLS`, the inline bytes of a small
value, the row MAC), the deletion log (tombstones and their signed summary),
the claims of single flight, and answers the experiment queries. It checks
nothing: :class:`~pylearn_lab.cache.disk.DiskStore` signs and verifies every
row it reads, so an index can live anywhere (a local SQLite file, a team's
PostgreSQL server) without being trusted. Two ship:
:class:`~pylearn_lab.cache.sqlite_index.SqliteIndex` and
:class:`~pylearn_lab.cache.postgres_index.PostgresIndex`, both built from the
one row schema of :mod:`~pylearn_lab.cache.records`.

An index that can say cheaply whether anything was written since a moment
(:class:`StampedIndex`: SQLite's ``PRAGMA data_version``) lets the store keep
verified small entries between hits (:mod:`~pylearn_lab.cache.memo`); one that
cannot (PostgreSQL: another host's write is invisible without a round trip)
has every hit read its row.

Examples
--------
>>> import tempfile, pathlib
>>> from pylearn_lab.cache.sqlite_index import SqliteIndex
>>> ix = SqliteIndex(pathlib.Path(tempfile.mkdtemp()) / "index.sqlite")
>>> isinstance(ix, Index), isinstance(ix, StampedIndex)
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, Protocol, TypeVar, runtime_checkable

from .sqlite_index import IndexTxn

__all__ = ["Index", "IndexTxn", "StampedIndex"]

T = TypeVar("T")


@runtime_checkable
class Index(Protocol):
    """Rows, leases and queries of one cache (see the module docstring)."""

    #: where it lives, for messages (a file, a masked database URL)
    path: Any

    # -- rows -------------------------------------------------------------------------
    def fetch(self, key: str) -> tuple[Any, ...] | None:
        """``(signed columns..., inline, mac, tombstone gen or None)`` of ``key``."""

    def present(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` have rows."""

    def insert(self, key: str, kind: str, size: int, checksum: str, blob: str | None,
               inline: bytes | None, mac: str, record: dict[str, Any], gen: int = 0,
               publish: Callable[[], None] | None = None) -> bool:
        """Insert unless present or deleted after ``gen`` began; ``publish`` runs inside."""

    def insert_many(self, rows: list[tuple[Any, ...]]) -> set[str]:
        """:meth:`insert` of many rows in one write transaction; the keys inserted."""

    def insert_signed(self, signed: list[Any], inline: bytes | None, mac: str) -> bool:
        """Insert a row given as its signed columns (a rebuild from blob headers)."""

    def resign(self, key: str, checksum: str, mac: str) -> None:
        """Replace one row's payload MAC and row MAC (adopting a directory)."""

    def delete_row(self, key: str, mac: str) -> bool:
        """Delete ``key``'s row only if it is still the one signed ``mac``."""

    def take(self, keys: Iterable[str],
             on_delete: Callable[[IndexTxn, list[tuple[str, str | None]]], None] | None = None
             ) -> tuple[int, list[str]]:
        """Delete rows (``on_delete`` runs in the same transaction); ``(n, blob names)``."""

    def keys(self) -> list[str]:
        """Every stored key."""

    def all_rows(self) -> list[tuple[Any, ...]]:
        """Every row as :meth:`fetch` gives it."""

    def stats(self) -> tuple[int, int]:
        """``(entries, bytes)``, kept by the database itself (no scan)."""

    def lru_victims(self, max_bytes: int, target: int | None = None) -> list[str]:
        """Least recently used keys to drop to get under ``max_bytes``."""

    def touch(self, key: str) -> None:
        """Note a hit (written in batches)."""

    def flush(self) -> None:
        """Write pending access times."""

    # -- the deletion log and metadata ----------------------------------------------------
    def locked(self, fn: Callable[[IndexTxn], T]) -> T:
        """Run ``fn(txn)`` inside one write transaction."""

    def tombstones(self) -> list[tuple[str, int]]:
        """``(key, generation)`` of every deletion."""

    def deletion_log(self) -> tuple[str | None, list[tuple[str, int]]]:
        """The signed log summary and the tombstones, read in one snapshot."""

    def meta_get(self, name: str) -> str | None:
        """A metadata value (the cache id, the schema)."""

    def meta_set(self, name: str, value: str) -> None:
        """Set a metadata value."""

    # -- queries ------------------------------------------------------------------------
    def records(self, func: str | None = None,
                keys: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Record rows (JSON columns decoded), oldest first."""

    def signed_rows(self, func: str | None = None,
                    keys: list[str] | None = None) -> list[tuple[Any, ...]]:
        """``(signed columns..., last_access, mac, tombstone gen)``, for the store to verify."""

    # -- leases (single flight) -----------------------------------------------------------
    def try_claim(self, key: str, owner: str, ttl: float) -> bool:
        """Claim ``key`` unless another owner's claim is live."""

    def try_claim_many(self, keys: list[str], owner: str, ttl: float) -> set[str]:
        """Claim several keys in one transaction; those now ours."""

    def take_over(self, key: str, owner: str, ttl: float, stale: str) -> bool:
        """Move a dead owner's claim to ``owner``."""

    def release(self, key: str, owner: str) -> None:
        """Give a claim back."""

    def release_many(self, keys: list[str], owner: str) -> None:
        """Give several claims back in one transaction."""

    def claim_owner(self, key: str) -> str | None:
        """Who holds a live claim on ``key``."""

    def close(self) -> None:
        """Flush and close connections."""


@runtime_checkable
class StampedIndex(Protocol):
    """An index that says cheaply whether anything was written (see the module docstring)."""

    def read_stamp(self) -> Hashable:
        """Equal across two calls (of one thread) only if nothing was written in between."""
