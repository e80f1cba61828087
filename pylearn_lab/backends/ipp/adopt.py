"""The client half of the data plane: what engines need to read, and indexing what they wrote.

For each submission of VM tasks, :func:`prepare` looks up the stored inputs
in the client's index (the only process that opens it) and builds the
engine's :class:`~pylearn_lab.backends.ipp.blobs.BlobPlan`: small entries
travel as their bytes, large ones as blob names that engines which see the
cache directory memory-map. When no engine sees it, the blob bytes travel
instead (read from the client's memory map, never unpickled here), so a run
is correct on any cluster.

:class:`Indexer` is the index's single writer for receipts: one thread takes
the rows engines sent back and indexes them with
:meth:`~pylearn_lab.cache.disk.DiskStore.adopt` -- all rows that arrived
meanwhile in one transaction, so thousands of tiny nodes a second cost a few
commits. While tasks are still outstanding it waits up to 20 ms for the
receipts right behind the first (one node per task: receipts arrive a few ms
apart); an idle backend indexes at once. A row that cannot be indexed (the cache directory was deleted under
the run, the disk is full) is not lost: its value is decoded and handed to
the run, which goes on uncached for that node.

Examples
--------
>>> import tempfile
>>> from pylearn_lab.cache import Cache
>>> ix = Indexer()
>>> c = Cache(tempfile.mkdtemp())
>>> from pylearn_lab.cache.serialize import encode
>>> head, payload, _ = encode(41)
>>> from pylearn_lab.vm.task import Receipt
>>> rows = [{"key": "k" * 32, "head": head, "record": {},
...          "payload": b"".join(payload)}]
>>> out = ix.enqueue(c, [Receipt("k" * 32, ok=True)], rows).result(timeout=10)
>>> out[0].stored, c.load("k" * 32)
(True, 41)
>>> ix.close()
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import logging
import os
import queue
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from ...cache.disk import INLINE_MAX
from ...cache.serialize import decode_payload
from ...errors import CacheError
from ..remote_future import settle
from .blobs import BlobPlan

__all__ = ["Indexer", "prepare"]

log = logging.getLogger(__name__)

_BATCH = 4096  # rows per transaction at most
_LINGER = 0.02  # seconds the indexer waits for more receipts (while more are coming)
_SMALL = 4096  # values up to this many bytes also go to the run decoded (see _index)


def prepare(tasks: list[Any], cache: Any, root: str, seers: set[int], trusted: bool = False
            ) -> tuple[BlobPlan, list[int] | None]:
    """The plan for ``tasks`` and the engines that may run them (None: any engine).

    Inputs are located with :meth:`~pylearn_lab.cache.disk.DiskStore.locate`
    (row MAC, deletion log and inline payload MAC checked here). Tasks reading a
    blob go to engines that see the directory; when there is none, the blob's
    bytes travel with the task, read through the store's own verified read. An
    untrusted cache serves nothing and no engine touches its files; a read-only
    one lets engines read blobs but never write.
    """
    store = cache.store
    untrusted = bool(getattr(store, "untrusted", ""))
    if untrusted:
        seers = set()
    produced = {t.call.key for t in tasks}
    want = [k for t in tasks for k in t.call.inputs if k not in t.inputs and k not in produced]
    located = store.locate(dict.fromkeys(want)) if want else {}
    refs: dict[str, tuple[Any, ...]] = {}
    blobs = False
    for k, loc in located.items():
        if loc["inline"] is not None:
            refs[k] = ("bytes", loc["inline"], loc["fields"], loc["mac"])
        elif seers:
            refs[k] = ("blob", loc["fields"], loc["mac"])
            blobs = True
        else:
            try:
                entry = store.get(k)  # every check of a hit: size, payload MAC
            except Exception:
                entry = None
            if entry is not None:
                refs[k] = ("bytes", bytes(entry.data), loc["fields"], loc["mac"])
            # else gone or broken: the engine reports a missing input and the run recomputes it
    for t in tasks:
        t.cache = None  # the engine puts its own EngineCache here
    signer = getattr(store, "_signer", None)
    plan = BlobPlan(root=root if seers else None, seers=frozenset(seers), refs=refs,
                    trusted=trusted,
                    write=bool(seers) and not untrusted and not getattr(store, "read_only", True),
                    key_id="" if signer is None else signer.key_id,
                    key_file=getattr(store, "key_file", None))
    return plan, (sorted(seers) if blobs else None)


class Indexer:
    """The one thread that indexes receipts' rows in the client's cache (batched)."""

    def __init__(self, busy: Callable[[], bool] | None = None) -> None:
        #: True while more receipts are on their way (jobs outstanding): only then does
        #: the indexer linger for them before a transaction
        self.busy = busy
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.batches = 0  # transactions so far (the benchmark reports rows per batch)
        #: blob files stored, by the pid of the process that wrote their bytes: an
        #: engine's (from its temp file's name) or this process's (shipped values)
        self.blob_writers: collections.Counter[int] = collections.Counter()

    def enqueue(self, cache: Any, receipts: list[Any], rows: list[dict[str, Any]],
                store: bool = True, into: cf.Future | None = None) -> cf.Future:
        """A future of ``receipts`` once ``rows`` are indexed (``stored`` set on each).

        ``store=False`` (the cache directory is no longer the one ``cache`` opened):
        nothing is written; the values go to the run uncached. ``into``: settle this
        future (the one the run already holds) rather than a new one -- a future
        fewer per node, for the collector to walk and the IO thread to settle."""
        fut: cf.Future = cf.Future() if into is None else into
        if not store:
            _settle_uncached(cache, receipts, rows, fut)
            return fut
        with self._lock:
            self._q.put((cache, receipts, rows, fut))
            if self._closed:
                self._q.put(None)  # a receipt after close(): index it, then end again
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="pylearn-ipp-index",
                                                daemon=True)
                self._thread.start()
        return fut

    def close(self) -> None:
        """End the thread once it has indexed everything enqueued, before or after."""
        with self._lock:
            self._closed = True
            self._q.put(None)

    def _work(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                # under the lock enqueue() holds: an item put behind the stop is either
                # seen here, or finds no thread and starts one (it was lost otherwise)
                with self._lock:
                    if self._q.empty():
                        self._thread = None
                        return
                continue
            items = [item]
            n = len(item[2])
            # linger a little for the receipts right behind this one: tasks of one node
            # each arrive a few ms apart, and one transaction for several of them costs
            # about what one costs for a single row (the commit dominates). Sleep
            # through it, then take what came: waiting on the queue instead woke this
            # thread for every receipt, a hand-over of the interpreter lock per node
            # paid by ipyparallel's IO thread, which puts them here
            if self.busy is not None and self.busy():
                time.sleep(_LINGER)
            while n < _BATCH:
                try:
                    more = self._q.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._q.put(None)
                    break
                items.append(more)
                n += len(more[2])
            by_cache: dict[int, list[Any]] = {}
            for it in items:
                by_cache.setdefault(id(it[0]), []).append(it)
            for group in by_cache.values():
                try:
                    self._index(group)
                except BaseException as exc:  # never leave a run waiting on this thread
                    for *_, fut in group:
                        settle(fut, error=exc)

    def _index(self, group: list[Any]) -> None:
        cache = group[0][0]
        rows = [r for it in group for r in it[2]]
        stored: set[str] = set()
        failed: BaseException | None = None
        if rows:
            try:
                inserted = cache.store.adopt(rows)
                self.batches += 1
                self._count_writers(rows, inserted)
                # lost a race to another writer is fine: the key is stored either way
                # (asked only for the rows this batch did not insert itself)
                others = [r["key"] for r in rows if r["key"] not in inserted]
                stored = set(inserted) | (cache.contains_many(others) if others else set())
            except Exception as exc:
                failed = exc
                from ...cache.cache import CacheWarning

                warnings.warn(
                    f"could not store {len(rows)} result(s) in {cache.location} ({exc}); the "
                    "run goes on with them in memory, not cached. Was the cache directory "
                    "deleted? Open it again (pylearn_lab.Cache(path)) for the next run.",
                    CacheWarning, stacklevel=2)
            if cache.max_bytes is not None and not failed:
                try:
                    cache.store.evict_to(cache.max_bytes)
                except Exception as exc:
                    log.warning("could not enforce max_bytes: %s", exc)
        for _, receipts, item_rows, fut in group:
            by_key = {r["key"]: r for r in item_rows}
            for rc in receipts:
                row = by_key.get(rc.key)
                if row is None or not rc.ok:
                    continue
                rc.stored = rc.key in stored
                if not rc.stored and not rc.has_value:
                    _hand_over(cache, rc, row, failed)
                elif "payload" in row and not rc.has_value and len(row["payload"]) <= _SMALL:
                    # a small value is decoded from the very bytes just stored: the run
                    # then needs no index read per output (large ones stay in the store)
                    rc.value, rc.has_value = _decode(row), True
            settle(fut, list(receipts))

    def _count_writers(self, rows: list[dict[str, Any]], inserted: set[str]) -> None:
        for r in rows:
            if r["key"] not in inserted:
                continue
            if "tmp" in r:  # <key>.<pid>.<token>.tmp, checked by the store
                self.blob_writers[int(r["tmp"].split(".")[1])] += 1
            elif len(r["payload"]) > INLINE_MAX:
                self.blob_writers[os.getpid()] += 1


def _settle_uncached(cache: Any, receipts: list[Any], rows: list[dict[str, Any]],
                     fut: cf.Future) -> None:
    why = CacheError(f"the cache directory {cache.location} was deleted or replaced")
    by_key = {r["key"]: r for r in rows}
    for rc in receipts:
        row = by_key.get(rc.key)
        if row is not None and rc.ok and not rc.has_value:
            rc.stored = False
            _hand_over(cache, rc, row, why)
    settle(fut, list(receipts))


def _decode(row: dict[str, Any]) -> Any:
    # straight from the frames: no blob header is built around the payload and parsed again
    return decode_payload(dict(row["head"]), memoryview(row["payload"]))


def _hand_over(cache: Any, rc: Any, row: dict[str, Any], why: BaseException | None) -> None:
    """Give the run the value of a row that could not be indexed (it flows on uncached)."""
    try:
        if "payload" not in row:
            # a temp file the store refused or could not publish is gone (never read
            # unauthenticated): the node fails and is reported, the run goes on
            raise CacheError(f"the engine's result file {row.get('tmp')!r} was not stored")
        rc.value = _decode(row)
        rc.has_value = True
        rc.warning = f"result of node {rc.key[:12]} not cached: {why}"
    except Exception as exc:
        rc.ok = False
        rc.error_type = f"{type(exc).__module__}.{type(exc).__qualname__}"
        rc.error_msg = (f"its output was computed but can neither be indexed ({why}) nor read "
                        f"back ({exc}). Check the cache directory, or run with cache=False.")
