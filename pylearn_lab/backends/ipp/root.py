"""Is the cache directory still the one the client's Cache opened?

A user (or a cleanup job) may ``rm -rf`` the cache directory while a cluster
runs, or delete it and make another cache at the same path. The client's
:class:`~pylearn_lab.cache.cache.Cache` then still holds the old index open,
and the old blob paths name files of another cache, or nothing. Engines must
not write there, and the client must not publish what they send into a
directory that is no longer its cache. :class:`RootWatch` remembers the
identity (device, inode and the marker file holding the cache's random id)
of each cache directory when the backend first meets the :class:`Cache`
object, and says whether the path still names that directory: a ``stat``
and a read of a small file per check, made at the start of every run and
then at most every :data:`RECHECK` seconds while it passes. When it does not, the backend runs the
rest on the ship plane -- engines touch no file, results are handed to the
run uncached with a :class:`~pylearn_lab.errors.CacheWarning` -- and nobody
creates a directory where the path is missing. A new ``pylearn_lab.Cache(path)``
for the recreated directory is met afresh and used through the store again.

Examples
--------
>>> import os, shutil, tempfile
>>> from pylearn_lab.cache import Cache
>>> d = os.path.join(tempfile.mkdtemp(), "c")
>>> watch, old = RootWatch(), Cache(d)
>>> watch.note(old); watch.ok(d)
True
>>> shutil.rmtree(d); watch.note(old); watch.ok(d)  # the next run looks again
False
>>> os.mkdir(d); watch.ok(d)  # an empty directory at the same path
False
>>> os.rmdir(d); new = Cache(d); watch.ok(d)  # another cache there
False
>>> watch.note(new); watch.ok(d)  # its own Cache object is met afresh
True
>>> new.close(); old.close(); shutil.rmtree(d)
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from ...cache.binding import MARKER
from ...cache.warn import warn_once

__all__ = ["RECHECK", "RootWatch", "dir_identity"]


def dir_identity(path: str) -> tuple[int, int, bytes] | None:
    """What tells this cache directory from any other at ``path``: the directory's
    device and inode, and the bytes of its marker file (it holds the cache's random
    identity; an inode number alone is reused by the next directory made there).
    None when the path names nothing."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    try:
        with open(os.path.join(path, MARKER), "rb") as f:
            marker = f.read(65536)
    except OSError:  # an empty directory, or not a cache
        marker = b""
    return (st.st_dev, st.st_ino, marker)


#: Seconds a passed check holds within a run. A check is a stat and a small read: four
#: system calls, and the backend asks before and after every task -- with one node per
#: task, thousands a second, each a hand-off of the interpreter lock to a busy thread.
RECHECK = 0.05


class RootWatch:
    """Identity of each cache directory as its Cache object first met it.

    :meth:`note` (once per run) makes the next :meth:`ok` look again; within a
    run, a check that passed holds for :data:`RECHECK` seconds, so a directory
    deleted or replaced *during* a run is noticed within that time (a failed
    check is never remembered: it is made again at every call).
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[Any, tuple[int, int, bytes] | None]] = {}
        self._passed: dict[str, float] = {}  # location -> when a check last passed
        self._lock = threading.Lock()

    def note(self, cache: Any) -> None:
        """Remember ``cache``'s directory unless this very Cache object was met already;
        either way the next :meth:`ok` checks the directory again."""
        with self._lock:
            self._passed.pop(cache.location, None)
            known = self._known.get(cache.location)
            if known is None or known[0] is not cache:
                self._known[cache.location] = (cache, dir_identity(cache.location))

    def ok(self, location: str) -> bool:
        """True while ``location`` names the directory its Cache object opened."""
        with self._lock:
            known = self._known.get(location)
            passed = self._passed.get(location)
        if known is None:
            return True  # never met: nothing to compare with (the store's own checks apply)
        now = time.monotonic()
        if passed is not None and now - passed < RECHECK:
            return True
        good = known[1] is not None and dir_identity(location) == known[1]
        with self._lock:
            if good:
                self._passed[location] = now
            else:
                self._passed.pop(location, None)
        return good

    def warn(self, location: str) -> None:
        """One :class:`CacheWarning` per run saying the directory went away or was replaced."""
        gone = dir_identity(location) is None
        warn_once(location, "directory replaced",
                  f"the cache directory {location} was "
                  f"{'deleted' if gone else 'deleted and replaced by another directory'} "
                  "while this backend used it; results of this run travel to the notebook and "
                  "are not cached there, and engines write no file. Open it again for the next "
                  f"run: pylearn_lab.Cache({location!r}).", stacklevel=4)
