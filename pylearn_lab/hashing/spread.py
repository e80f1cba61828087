"""Large buffers hashed on every core, in segments whose digests never depend on the thread count.

A large buffer (or a dataframe's column buffers, several at once) is cut into
segments of :data:`SEGMENT` bytes (1 MiB; each buffer's last segment shorter),
and each segment gets its own 256-bit BLAKE3 digest from a fresh hasher. The
calling thread and a few helper threads (one per further core, started on
first use) take segments from one shared counter until none is left, so the
work balances itself to within one segment, whatever else the machine runs;
and the caller never waits for a helper: a segment a helper has not finished
when the counter runs out is hashed again by the caller (same bytes, same
digest), so a helper descheduled by another process costs at most one
segment, never a time slice of the scheduler.

Why not blake3's own ``max_threads=AUTO``: it hands each power-of-two
subtree of an update to its thread pool and waits for it, so a buffer whose
length is not a power of two (every real column) costs several hand-offs
between threads (7 for 8,000,000 bytes), and a frame of six columns six
times that. Measured on this 2-core machine for the 41 MB of a
1,000,000-row mixed frame: 4.1-4.8 ms with one AUTO hasher per buffer,
3.2-3.7 ms for AUTO over one concatenated copy (the copy not counted),
3.5-3.9 ms here with no copy; and when another process holds the other
core this falls back to one core's speed, where AUTO's figure doubles.

What a key holds is fixed by the bytes alone: the segment size is a constant,
segments never cross buffers, and the digests come back in segment order
whichever thread computed them. A forked child (its helper threads are gone)
starts its own helpers on first use.

Examples
--------
>>> from blake3 import blake3
>>> parts = segment_digests([bytes(SEGMENT + 5), b"abc"])
>>> len(parts) == 3 * 32
True
>>> parts[:32] == blake3(bytes(SEGMENT)).digest() and parts[64:] == blake3(b"abc").digest()
True
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections.abc import Sequence
from typing import Any

from blake3 import blake3

__all__ = ["SEGMENT", "SegmentStream", "segment_count", "segment_digests"]

#: Bytes per segment: small enough that the last one keeps no core idle for
#: long (about 0.15 ms at one core's BLAKE3 speed), large enough that the
#: per-segment Python work (a few microseconds) is lost in the hashing.
SEGMENT = 1 << 20


def segment_count(nbytes: int) -> int:
    """How many segments (and so 32-byte digests) a buffer of ``nbytes`` bytes has.

    Examples
    --------
    >>> segment_count(1), segment_count(SEGMENT), segment_count(SEGMENT + 1)
    (1, 1, 2)
    """
    return max(1, -(-nbytes // SEGMENT))


class SegmentStream:
    """Segments added one buffer at a time, hashed by helper threads as they arrive.

    :meth:`add` cuts a buffer into segments and wakes the helpers, who hash
    segments in the background whenever the caller releases the GIL (a
    frame's walk mostly holds it, so their wake-up is what overlaps it);
    :meth:`result` closes the stream, hashes what
    is left on the calling thread too, and returns the digests in segment
    order. Each segment index goes to one thread first (one shared counter);
    the caller re-hashes one a helper has not finished rather than wait.

    Examples
    --------
    >>> s = SegmentStream(); s.add(b"abc"); s.add(bytes(SEGMENT + 1))
    >>> s.result() == segment_digests([b"abc", bytes(SEGMENT + 1)], threads=1)
    True
    """

    __slots__ = ("aborted", "closed", "cond", "next", "out", "segs", "started", "threads")

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads  # at most this many threads, the caller's included; None: all cores
        self.segs: list[Any] = []  # memoryviews; None once hashed
        self.out: list[bytes] = []
        self.next = itertools.count().__next__  # atomic under the GIL: each index to one thread
        self.cond = threading.Condition(threading.Lock())
        self.closed = self.aborted = self.started = False

    def add(self, buf: Any) -> None:
        """Append one C-contiguous buffer's segments (no copy; the buffer must not change)."""
        m = memoryview(buf).cast("B")
        n = m.nbytes
        new = [m] if n <= SEGMENT else [m[i:i + SEGMENT] for i in range(0, n, SEGMENT)]
        self.out.extend([b""] * len(new))  # before segs: a helper that sees segs[i] finds out[i]
        self.segs.extend(new)
        if self.threads == 1:
            return
        if not self.started:
            self.started = True
            helpers = _get_helpers()
            for _ in range(min(helpers.count, (self.threads or helpers.count + 1) - 1)):
                helpers.jobs.put(self)
        else:
            with self.cond:
                self.cond.notify_all()

    def help(self) -> None:
        """A helper thread's part: hash segments until the stream is closed and exhausted."""
        segs, out, nxt, cond = self.segs, self.out, self.next, self.cond
        while True:
            i = nxt()
            if i >= len(segs):
                with cond:  # caught up with the caller: wait for more, or the end
                    while i >= len(segs) and not self.closed:
                        cond.wait()
                if i >= len(segs):
                    return
            if self.closed and self.aborted:
                return
            out[i] = blake3(segs[i]).digest()  # releases the GIL while it hashes
            segs[i] = None  # after out[i]: a temporary buffer is freed once all of it is hashed

    def result(self) -> bytes:
        """Close the stream, help finish it, and return every segment's digest in order, joined.

        Never waits for a helper: a segment a helper took but has not
        finished (descheduled because another process holds its core, say)
        is hashed again here -- the same bytes, the same digest -- so the cost
        of a slow helper is at most one segment, never a scheduler time slice.
        """
        segs, out, nxt = self.segs, self.out, self.next
        if self.started:
            with self.cond:
                self.closed = True
                self.cond.notify_all()
        while True:
            i = nxt()
            if i >= len(segs):
                break
            out[i] = blake3(segs[i]).digest()
            segs[i] = None
        if self.started:
            for i in range(len(out)):
                seg = segs[i]  # first: a helper clears it only after writing out[i]
                if seg is not None and not out[i]:  # taken by a helper still at it
                    out[i] = blake3(seg).digest()
        return b"".join(out)

    def abort(self) -> None:
        """Stop the helpers (the caller failed): they take no further segment."""
        with self.cond:
            self.aborted = self.closed = True
            self.cond.notify_all()


class _Helpers:
    """Daemon threads that help whichever job is queued; started lazily, per process."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.jobs: queue.SimpleQueue[SegmentStream] = queue.SimpleQueue()
        self.pid = os.getpid()
        for i in range(count):
            threading.Thread(target=self._loop, name=f"pylearn_lab-hash-{i}", daemon=True).start()

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                job.help()
            except BaseException:  # noqa: BLE001 -- the caller re-hashes what is missing and
                pass  # raises the same error itself; this thread stays for the next job


_helpers: _Helpers | None = None
_start_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # the parent's helper threads do not exist here, and a lock another thread held at the
    # fork would stay held: start afresh (helpers are made again on first use)
    global _helpers, _start_lock
    _helpers, _start_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _get_helpers() -> _Helpers:
    global _helpers
    h = _helpers
    if h is None or h.pid != os.getpid():  # a forked child: the parent's threads are not here
        with _start_lock:
            h = _helpers
            if h is None or h.pid != os.getpid():
                h = _helpers = _Helpers(min(_usable_cores() - 1, 7))
    return h


def segment_digests(buffers: Sequence[Any], threads: int | None = None) -> bytes:
    """The 32-byte BLAKE3 digests of every segment of every buffer, in order, joined.

    Parameters
    ----------
    buffers : sequence of C-contiguous buffers
        bytes, memoryviews, numpy arrays; none is copied.
    threads : int, optional
        At most this many threads (the caller's included); all usable cores
        by default, 1 for a serial run. The result is the same either way.

    Returns
    -------
    bytes
        ``32 * sum(segment_count(len(b)) for b in buffers)`` bytes.

    Examples
    --------
    >>> segment_digests([b"x" * 3_000_000]) == segment_digests([b"x" * 3_000_000], threads=1)
    True
    """
    if len(buffers) == 1 and memoryview(buffers[0]).nbytes <= SEGMENT:
        return blake3(buffers[0]).digest()  # one segment: no thread to wake
    stream = SegmentStream(threads)
    try:
        for buf in buffers:
            stream.add(buf)
        return stream.result()
    except BaseException:
        stream.abort()
        raise
