"""Single flight: the claims (leases) a run holds on the keys it computes.

With a shareable cache, a run *claims* a node's key before computing it, so
two runs (two notebooks, two hosts) that want the same key at the same time
compute it once: the second sees the claim, waits for the result to be
stored, and takes it from the cache. A claim lapses after ``ttl`` seconds
unless refreshed, so a run that died does not block anyone for long.

:class:`Leases` is everything the loop needs: claim a batch (one transaction),
poll keys another run is computing, refresh what it holds, release in one
transaction every :data:`FLUSH_EVERY` seconds at most (a run receiving one
receipt per turn would otherwise write one transaction per node, competing
with the workers' own writes to the same index). Delaying a release is safe:
a stored key's claim is moot (``try_claim`` refuses stored keys, and a run
waiting on it polls the cache first), and a failed key is released at most a
quarter second late. Without a cache it is inert: every key is granted. A
cache that only this process sees (``Cache(":memory:")``) is claimed too: the
runs of several threads of one process (``run(wait=False)``, ``call()``, two
threads of a notebook) share it, and computed every node they had in common
once each (found by the red team; its claims are dictionary entries).

Examples
--------
>>> from pylearn_lab.cache import Cache
>>> c = Cache(":memory:")
>>> leases = Leases(c, owner="me")
>>> leases.active, Leases(None).active
(True, False)
>>> leases.claim(["k1"], cacheable=lambda k: True)
(['k1'], [])
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..cache.leases import run_owner

__all__ = ["Leases", "CLAIM_TTL", "FLUSH_EVERY", "POLL"]

CLAIM_TTL = 60.0
"""Seconds a claim lives unless refreshed (refreshed every third of it)."""
POLL = 0.1
"""Seconds between two looks at a key another run is computing."""
FLUSH_EVERY = 0.25
"""Seconds between two release transactions (releases wait and go together)."""


class Leases:
    """The claims of one run (see the module docstring).

    Attributes
    ----------
    active : bool
        Claims are taken at all (there is a cache that can hold claims).
    held : set of str
        Keys this run holds.
    elsewhere : dict of str to float
        Keys another run holds, with the time they were last looked at.
    """

    __slots__ = ("cache", "owner", "active", "held", "elsewhere", "ttl", "_unclaim", "_refreshed",
                 "_flushed")

    def __init__(self, cache: Any, owner: str | None = None, ttl: float = CLAIM_TTL) -> None:
        self.cache = cache
        self.owner = owner or run_owner()
        self.active = bool(cache is not None and callable(getattr(cache, "try_claim_many", None)))
        self.ttl = ttl
        self.held: set[str] = set()
        self.elsewhere: dict[str, float] = {}
        self._unclaim: list[str] = []
        self._refreshed = self._flushed = time.monotonic()

    def claim(self, keys: list[str], cacheable: Callable[[str], bool]) -> tuple[list[str], list[str]]:
        """Claim ``keys``; returns (keys to compute now, keys another run computes).

        A key the run just claimed may have been stored between planning and the
        claim: the loop checks :meth:`stored` before computing it.
        """
        if not self.active:
            return keys, []
        to_claim = [k for k in keys if cacheable(k)]
        got = self.cache.try_claim_many(to_claim, self.owner, self.ttl) if to_claim else set()
        self.held |= got
        if self._unclaim and got:  # claimed again before a delayed release went out: keep it
            self._unclaim = [k for k in self._unclaim if k not in got]
        now = time.monotonic()
        go, wait = [], []
        for k in keys:
            if k in got or not cacheable(k):
                go.append(k)
            else:
                self.elsewhere[k] = now
                wait.append(k)
        return go, wait

    def stored(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` (held by this run) are already in the cache."""
        held = [k for k in keys if k in self.held]
        return self.cache.contains_many(held) if held else set()

    def poll(self) -> tuple[list[str], list[str]]:
        """Look at keys other runs compute: (now stored, now claimed by this run)."""
        stored, mine = [], []
        for k in list(self.elsewhere):
            if self.cache.contains_many([k]):
                del self.elsewhere[k]
                stored.append(k)
            elif time.monotonic() - self.elsewhere[k] > POLL:
                if self.cache.try_claim(k, self.owner, self.ttl):  # the other run lapsed
                    del self.elsewhere[k]
                    self.held.add(k)
                    mine.append(k)
                else:
                    self.elsewhere[k] = time.monotonic()
        return stored, mine

    def refresh(self) -> None:
        """Renew held claims every third of their lifetime."""
        if self.held and time.monotonic() - self._refreshed > self.ttl / 3:
            for k in self.held:
                self.cache.try_claim(k, self.owner, self.ttl)
            self._refreshed = time.monotonic()

    def release(self, k: str) -> None:
        """Give ``k`` up (queued: :meth:`flush` releases in one transaction)."""
        if k in self.held:
            self.held.discard(k)
            self._unclaim.append(k)

    def flush(self, force: bool = False) -> None:
        """Release what :meth:`release` queued (now if ``force``, else every FLUSH_EVERY s)."""
        if self._unclaim and (force or time.monotonic() - self._flushed >= FLUSH_EVERY):
            keys, self._unclaim = self._unclaim, []
            self.cache.release_many(keys, self.owner)
            self._flushed = time.monotonic()

    def release_all(self) -> None:
        """The run ends (or stops): release every claim."""
        for k in list(self.held):
            self.release(k)
        self.flush(force=True)
