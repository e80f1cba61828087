"""The hit memo: verified inline bytes, served again while the index is unchanged.

A small hit spends most of its time proving the entry is genuine: one SQLite
``SELECT`` of the row, the row MAC (JSON of twenty columns, keyed BLAKE3) and
the payload MAC. None of that can change while nothing writes the index, and
SQLite says cheaply whether anything did. So :class:`~pylearn_lab.cache.disk.DiskStore`
keeps, per thread, the bytes of small (inline) entries it has *already
verified*, tagged with the index's **read stamp** taken *before* the row was
read:

* ``PRAGMA data_version`` of the thread's connection -- it changes when any
  other connection (another process, another thread, another store object on
  the same directory) commits;
* ``total_changes`` of that connection -- it changes when this connection
  writes (our own deletes, evictions, drops, stores, access-time flushes);
* a serial number of the connection (a reopened or forked connection starts
  its own counters).

When the stamp read at the start of a lookup differs from the memo's, the
whole memo is dropped before anything is served: an entry deleted, evicted,
replaced or forged by anyone is read and checked afresh. The memo holds
immutable ``bytes``; every hit unpickles a fresh object from them, so no two
callers ever share one mutable result.

What it does not cover, on purpose: blob files (they can be changed on disk
without the index knowing; they keep their per-hit ``fstat`` check) and
indexes without a read stamp (PostgreSQL: another host's delete cannot be seen
without a round trip, so every team-cache hit reads its row).

Cost: at most :data:`MAX_BYTES` of memory per thread that reads the cache,
and one ``PRAGMA`` per lookup.

Examples
--------
>>> m = HitMemo()
>>> m.entry_for(("conn", 1, 5), "k" * 32) is None
True
>>> m.remember(("conn", 1, 5), "k" * 32, ("pickle", 3, b"abc", None))
>>> m.entry_for(("conn", 1, 5), "k" * 32)
('pickle', 3, b'abc', None)
>>> m.entry_for(("conn", 1, 6), "k" * 32) is None  # someone wrote: everything forgotten
True
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

__all__ = ["MAX_BYTES", "MAX_ENTRIES", "HitMemo"]

#: Bytes of verified entries kept per thread (inline entries are at most 64 KiB each).
MAX_BYTES = 8 << 20
#: Entries kept per thread.
MAX_ENTRIES = 4096

#: ``(kind, size, data, parsed header or None)``
Entry = tuple[str, int, bytes, Any]


class _Slot:
    __slots__ = ("entries", "nbytes", "stamp")

    def __init__(self) -> None:
        self.stamp: Hashable = None
        self.entries: dict[str, Entry] = {}
        self.nbytes = 0


class HitMemo:
    """Per-thread memo of verified entries, valid for one index read stamp."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_entries: int = MAX_ENTRIES) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._local = threading.local()

    def _slot(self, stamp: Hashable) -> _Slot:
        slot: _Slot | None = getattr(self._local, "slot", None)
        if slot is None:
            slot = self._local.slot = _Slot()
        if slot.stamp != stamp:  # the index may have changed: nothing is known any more
            slot.entries.clear()
            slot.nbytes = 0
            slot.stamp = stamp
        return slot

    def entry_for(self, stamp: Hashable, key: str) -> Entry | None:
        """The verified entry of ``key`` if the index is still at ``stamp``, else None.

        A stamp other than the memo's drops every entry first.
        """
        return self._slot(stamp).entries.get(key)

    def remember(self, stamp: Hashable, key: str, entry: Entry) -> None:
        """Keep ``entry`` (read and verified after ``stamp`` was taken)."""
        slot = self._slot(stamp)
        size = len(entry[2])
        if size > self.max_bytes or key in slot.entries:
            return
        while slot.entries and (slot.nbytes + size > self.max_bytes
                                or len(slot.entries) >= self.max_entries):
            oldest = next(iter(slot.entries))
            slot.nbytes -= len(slot.entries.pop(oldest)[2])
        slot.entries[key] = entry
        slot.nbytes += size

    def forget(self) -> None:
        """Drop this thread's entries (others are dropped at their next stamp check)."""
        slot: _Slot | None = getattr(self._local, "slot", None)
        if slot is not None:
            slot.entries.clear()
            slot.nbytes = 0
            slot.stamp = None
