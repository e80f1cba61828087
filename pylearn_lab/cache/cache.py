"""``Cache``: values in, values out, keyed by node keys; the experiment database.

The facade over a :class:`~pylearn_lab.cache.store.Store`: it serialises
values (:mod:`~pylearn_lab.cache.serialize`), keeps hit/miss counts for the
session, and turns every storage problem into a warning and a recompute --
never a crash and never a wrong value.

Examples
--------
>>> import tempfile
>>> c = Cache(tempfile.mkdtemp())
>>> c.save("k" * 32, {"acc": 0.9})
True
>>> c.lookup("k" * 32)
(True, {'acc': 0.9})
>>> c.lookup("z" * 32)
(False, None)
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CacheError, CacheWarning, IntegrityError, PylearnError
from .disk import DiskStore
from .leases import owner_is_dead
from .postgres_index import is_database_url, masked_url
from .records import Record, summarise_value
from .serialize import encode, unpack
from .store import MemoryStore, Store, VerifyReport, open_store
from .warn import new_run, warn_once

__all__ = [
    "Cache",
    "CacheInfo",
    "CacheWarning",
    "default_cache_path",
    "get_default_cache",
    "set_default_cache",
    "parse_size",
    "resolve_cache",
]

ENV_VAR = "PYLEARN_CACHE"


@dataclass
class CacheInfo:
    """Summary of a cache (``Cache.info()``)."""

    location: str
    entries: int
    bytes: int
    max_bytes: int | None
    hits: int
    misses: int
    time_saved: float

    @property
    def hit_rate(self) -> float:
        """Hits / lookups this session (0 when nothing was looked up)."""
        n = self.hits + self.misses
        return self.hits / n if n else 0.0

    def __str__(self) -> str:
        cap = f" of {format_size(self.max_bytes)}" if self.max_bytes else ""
        return (f"cache {self.location}: {self.entries} entries, {format_size(self.bytes)}{cap}; "
                f"this session {self.hits} hits / {self.misses} misses "
                f"({self.hit_rate:.0%}), {_seconds(self.time_saved)} saved")


def _seconds(t: float) -> str:
    """``0.0123 -> '12.3 ms'``, ``4.56 -> '4.6 s'``: small savings are not shown as 0.0 s."""
    return f"{t * 1000:.3g} ms" if 0 < t < 1 else f"{t:.1f} s"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.I)
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20,
          "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}


def parse_size(size: int | str | None) -> int | None:
    """Bytes from ``2_000_000``, ``"2GB"``, ``"512MiB"``; None stays None.

    Examples
    --------
    >>> parse_size("2GB"), parse_size("1KiB"), parse_size(10)
    (2000000000, 1024, 10)
    """
    if size is None or (isinstance(size, int) and not isinstance(size, bool)):
        if isinstance(size, int) and size < 0:
            raise ValueError(f"a size must be >= 0 bytes, received {size}")
        return size
    m = _SIZE.match(str(size))
    unit = (m.group(2) or "").lower() if m else None
    if not m or unit not in _UNITS:
        raise ValueError(
            f"expected a size such as 500MB, 2GB or 1073741824, received {size!r}. "
            "Units: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB (powers of 1024)."
        )
    return int(float(m.group(1)) * _UNITS[unit])


def format_size(n: int | None) -> str:
    """``1536 -> '1.5 KiB'``."""
    if n is None:
        return "unlimited"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def default_cache_path() -> Path:
    """``$PYLEARN_CACHE`` if set, else ``./.pylearn`` (beside the notebook)."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path.cwd() / ".pylearn"


class Cache:
    """A persistent cache of node results; also the experiment database.

    Parameters
    ----------
    path : str or Path, optional
        Cache directory (default: :func:`default_cache_path`), or ``":memory:"``
        for a process-local cache.
    max_bytes : int or str, optional
        Size cap enforced on every write (least recently used entries go first),
        e.g. ``"2GB"``.
    store : Store, optional
        A custom storage back end (overrides ``path``).
    durable : bool
        fsync blobs before they become visible (survives power loss).
    blobs : str or Path, optional
        With a ``postgresql://`` URL as ``path`` (a team cache): the shared
        directory for blobs and the cache secret (default ``$PYLEARN_BLOBS``).
        The database holds the index rows; see ``docs/team.md``.
    trust : None, True, "reset" or a key file path
        How to treat a directory made under another key (copied, cloned, shared):
        ``None`` (default) leaves it untrusted -- misses, nothing stored, one
        warning; ``True`` adopts it (you vouch for its entries; they are re-signed
        with your key); ``"reset"`` drops its entries and makes it yours; a path
        names a team key file shared on purpose (see docs/security.md).
    force : bool
        Allow a system directory (``/``, ``/etc``, the home directory itself).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None,
                 max_bytes: int | str | None = None, *, store: Store | None = None,
                 durable: bool = False, blobs: str | os.PathLike[str] | None = None,
                 trust: Any = None, force: bool = False) -> None:
        self.max_bytes = parse_size(max_bytes)
        self.index_url: str | None = None
        if path is None and store is None and is_database_url(os.environ.get(ENV_VAR)):
            path = os.environ[ENV_VAR]  # PYLEARN_CACHE=postgresql://...
        if trust is not None and trust is not True and trust != "reset" and not isinstance(
                trust, (str, os.PathLike)):
            raise TypeError(
                f"trust= expected None, True, 'reset' or the path of a team key file, received "
                f"{type(trust).__name__}.")
        if store is not None:
            self.store = store
        elif is_database_url(path):
            self.index_url = str(path)
            self.store = _team_store(str(path), blobs, durable, trust, force)
        elif str(path) == ":memory:":
            self.store = MemoryStore()
        else:
            self.store = DiskStore(default_cache_path() if path is None else path,
                                   durable=durable, trust=trust, force=force)
        self.hits = 0
        self.misses = 0
        self.time_saved = 0.0
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    # -- identity / transport ---------------------------------------------------------
    @property
    def location(self) -> str:
        """Where the entries live (a directory, or ``:memory:``)."""
        return self.store.location

    @property
    def shareable(self) -> bool:
        """True when other processes can open the same cache (its store's ``scope`` is
        not ``"process"``: a directory, a server)."""
        return getattr(self.store, "scope", "process") != "process" and callable(
            getattr(self.store, "spec", None))

    @property
    def trusted(self) -> bool:
        """False when the directory was made under another key (see ``trust=``)."""
        return not getattr(self.store, "untrusted", "")

    def spec(self) -> tuple[Any, ...] | None:
        """A picklable description a worker uses to open this cache (None if not shareable).

        It names the team key *file* when there is one, never a key: workers of the
        same user find the personal key where the client does.
        """
        if not self.shareable:
            return None
        if self.index_url is not None:  # a team cache: workers open the same database
            return ("postgresql", self.location, self.max_bytes, self.index_url,
                    getattr(self.store, "key_file", None))
        if isinstance(self.store, DiskStore):  # the historical form, kept for old workers
            return ("disk", self.location, self.max_bytes, self.store.key_file)
        return ("store", self.store.spec(), self.max_bytes)

    @classmethod
    def from_spec(cls, spec: tuple[Any, ...]) -> "Cache":
        """Open (once per process) the cache described by :meth:`spec`."""
        with _OPEN_LOCK:
            cache = _OPEN.get(spec)
            if cache is None:
                if spec[0] == "postgresql":
                    cache = cls(spec[3], max_bytes=spec[2], blobs=spec[1],
                                trust=spec[4] if len(spec) > 4 else None)
                elif spec[0] == "store":
                    cache = cls(store=open_store(spec[1]), max_bytes=spec[2])
                else:
                    key_file = spec[3] if len(spec) > 3 else None
                    cache = cls(spec[1], max_bytes=spec[2], trust=key_file)
                _OPEN[spec] = cache
        return cache

    # -- values -----------------------------------------------------------------------
    def lookup(self, key: str, *, count_miss: bool = True,
               count_hit: bool = True) -> tuple[bool, Any]:
        """``(True, value)`` on a hit, ``(False, None)`` on a miss.

        A broken entry (bad checksum or signature, unreadable) is dropped with a
        :class:`CacheWarning` and reported as a miss. ``count_miss=False`` keeps a
        probe (the run loop's all-cached fast path) out of the session's miss count;
        ``count_hit=False`` keeps a load the run loop accounts for itself out of the hits.
        """
        try:
            entry = self.store.get(key)
            if entry is not None:
                value, head = unpack(entry.data, entry.header)
                if count_hit:
                    with self._lock:
                        self.hits += 1
                        self.time_saved += float((head.get("meta") or {}).get("duration") or 0.0)
                return True, value
        except IntegrityError as exc:
            self._warn(str(exc), "refused entry")
        except Exception as exc:  # unreadable pickle, vanished file: recompute, never crash
            if isinstance(exc, PylearnError) and not isinstance(exc, CacheError):
                raise
            self._warn(f"cache entry {key[:12]} could not be read ({type(exc).__name__}: {exc}); "
                       "it will be recomputed", f"unreadable {type(exc).__name__}")
            self._forget(key)
        if count_miss:
            with self._lock:
                self.misses += 1
        return False, None

    def load(self, key: str, *, count: bool = True) -> Any:
        """The stored value of ``key``; ``KeyError`` when it is not (validly) stored.

        ``count=False``: the caller (the run loop) counts hits and misses itself.
        """
        hit, value = self.lookup(key, count_miss=count, count_hit=count)
        if not hit:
            raise KeyError(f"no valid cache entry for key {key[:12]}… in {self.location}")
        return value

    def save(self, key: str, value: Any, record: dict[str, Any] | None = None) -> bool:
        """Store ``value`` under ``key`` with its experiment ``record``.

        Returns True when stored now, False when it was already stored or could
        not be stored (disk full, read-only directory: a warning, never a crash).

        Raises
        ------
        UnpicklableError
            When ``value`` cannot be serialised at all (the call produced
            something that cannot be cached: say so at once).
        """
        head, payload, checksum = encode(value, getattr(self.store, "payload_hasher", None))
        if self.max_bytes is not None:
            size = sum(p.nbytes for p in payload)
            if size > self.max_bytes:
                # storing it would evict it (and everything else) at once: keep the cache as
                # it is and hand the value back uncached
                self._warn(f"a result of {format_size(size)} is bigger than the cache's "
                           f"max_bytes ({format_size(self.max_bytes)}): it is returned but not "
                           "cached. Raise max_bytes to cache results this big.", "too big")
                return False
        rec = dict(record or {})
        rec.setdefault("summary", summarise_value(value))
        try:
            stored = self.store.put(key, head, payload, checksum, rec)
        except (OSError, CacheError) as exc:
            cause = getattr(exc, "strerror", None) or type(exc).__name__
            self._warn(f"result {key[:12]} was not cached: {exc}. The run goes on without "
                       "caching it (further results hitting the same problem are not reported "
                       "again in this run).", f"not stored: {cause}")
            return False
        except Exception as exc:  # sqlite3 errors and friends
            self._warn(f"result {key[:12]} was not cached ({type(exc).__name__}: {exc}).",
                       f"not stored: {type(exc).__name__}")
            return False
        if stored and self.max_bytes is not None:
            try:
                self.store.evict_to(self.max_bytes)
            except Exception as exc:
                self._warn(f"could not enforce max_bytes: {exc}", "eviction")
        return stored

    # -- membership and maintenance -----------------------------------------------------
    def contains(self, expr_or_key: Any) -> bool:
        """True when the result of ``expr_or_key`` (an Expr or a key) is stored."""
        key = _key_of(expr_or_key)
        return bool(self.contains_many([key]))

    def contains_many(self, keys: Iterable[str]) -> set[str]:
        """The stored subset of ``keys`` (one query per 500 keys)."""
        try:
            return self.store.contains(keys)
        except Exception as exc:
            self._warn(f"cache lookups failed ({exc}); everything will be computed", "lookups")
            return set()

    def invalidate(self, target: Any) -> int:
        """Drop entries: one Expr or key, or every entry of a component or function.

        Returns the number of entries removed.
        """
        from ..hashing.functions import qualified_name

        if isinstance(target, str) or hasattr(target, "key"):
            return self.store.delete([_key_of(target)])
        if callable(target):
            name = qualified_name(target)
            return self.store.delete([r["key"] for r in self.store.records(func=name)])
        raise TypeError(
            f"invalidate() expected an Expr, a key string, or a component/function, "
            f"received {type(target).__name__}."
        )

    def clear(self, func: Any = None) -> int:
        """Remove every entry (or every entry of ``func``); returns how many."""
        return self.store.clear() if func is None else self.invalidate(func)

    def prune(self, max_bytes: int | str) -> int:
        """Drop least recently used entries until at most ``max_bytes`` remain."""
        limit = parse_size(max_bytes)
        assert limit is not None
        return self.store.evict_to(limit)

    def verify(self, repair: bool = True) -> VerifyReport:
        """Checksum every entry; with ``repair`` drop bad ones and stray files."""
        return self.store.verify(repair=repair)

    def count_outcomes(self, hits: int, misses: int, saved: float) -> None:
        """Add a run's outcome to the session counters (what :meth:`info` reports).

        The run loop calls it once per run: ``hits`` nodes served from the cache,
        ``misses`` nodes computed (and stored), ``saved`` the recorded compute
        time of the entries served.
        """
        with self._lock:
            self.hits += hits
            self.misses += misses
            self.time_saved += saved

    def info(self) -> CacheInfo:
        """Location, size, entries and this session's hit rate."""
        n, size = self.store.stats()
        return CacheInfo(self.location, n, size, self.max_bytes, self.hits, self.misses,
                         self.time_saved)

    def records(self, func: Any = None, keys: Iterable[str] | None = None) -> list[Record]:
        """Experiment records, optionally of one component/function or some keys."""
        from ..hashing.functions import qualified_name

        name = None if func is None else (func if isinstance(func, str) else qualified_name(func))
        return [Record.from_row(r) for r in self.store.records(func=name, keys=keys)]

    def record(self, expr_or_key: Any) -> Record | None:
        """The record of one entry, or None."""
        recs = self.records(keys=[_key_of(expr_or_key)])
        return recs[0] if recs else None

    # -- single flight ----------------------------------------------------------------
    def try_claim(self, key: str, owner: str, ttl: float = 60.0) -> bool:
        """Claim ``key`` for computing; False when another live owner holds it,
        or when ``key`` is already stored (there is nothing left to compute).

        The stored check comes *after* the claim: a run that planned before
        another stored ``key`` and released it sees the entry here, so a key is
        never computed twice (the double check that makes single flight exact).
        Owners named ``host:pid:tag`` (the run loop's) are checked: a claim of a
        process of this host that no longer exists (a killed or restarted kernel)
        is taken over at once instead of stalling everyone until it expires.
        """
        try:
            got = self.store.try_claim(key, owner, ttl)
            if not got:
                holder = self.store.claim_owner(key)
                stale = (self.location, key, holder) in _UNRELEASED
                if holder and (stale or owner_is_dead(holder)):
                    got = bool(self.store.take_over_claim(key, owner, ttl, holder))
                    if got:
                        _UNRELEASED.discard((self.location, key, holder))
            if got and self.store.contains([key]):
                self.store.release(key, owner)
                return False
            return got
        except Exception:
            return True  # claims are an optimisation: never block a run on them

    def try_claim_many(self, keys: list[str], owner: str, ttl: float = 60.0) -> set[str]:
        """Claim many keys at once (one transaction); returns the keys now ours.

        Unlike :meth:`try_claim` it does not check whether a key is stored: the
        run loop does that for the whole batch in one query. Keys refused in the
        batch go through :meth:`try_claim` (which takes over dead owners' claims).
        """
        keys = list(keys)
        try:
            got = set(self.store.try_claim_many(keys, owner, ttl))
        except Exception:
            return set(keys)  # claims are an optimisation: never block a run on them
        return got | {k for k in keys if k not in got and self.try_claim(k, owner, ttl)}

    def release_many(self, keys: list[str], owner: str) -> None:
        """Give many claims back (one transaction when the store can)."""
        try:
            self.store.release_many(list(keys), owner)
        except Exception:
            for k in keys:
                _UNRELEASED.add((self.location, k, owner))

    def release(self, key: str, owner: str) -> None:
        """Give a claim back."""
        try:
            self.store.release(key, owner)
        except Exception:
            # e.g. a full disk refuses even this delete: remember the claim is stale, so
            # this process's next run takes it over instead of waiting for it to expire
            _UNRELEASED.add((self.location, key, owner))

    def close(self) -> None:
        """Flush bookkeeping (access times) and close connections."""
        self.store.close()

    def _forget(self, key: str) -> None:
        try:
            self.store.delete([key])
        except Exception:
            pass

    def _warn(self, msg: str, cause: str) -> None:
        warn_once(self.location, cause, msg, stacklevel=4)

    def __repr__(self) -> str:
        if self.index_url is not None:
            return f"Cache({masked_url(self.index_url)!r}, blobs={self.location!r})"
        return f"Cache({self.location!r})"


def _team_store(url: str, blobs: Any, durable: bool, trust: Any = None,
                force: bool = False) -> DiskStore:
    """Blobs in a shared directory, index rows in PostgreSQL (``Cache("postgresql://...")``)."""
    from .postgres_index import PostgresIndex

    blobs = blobs if blobs is not None else os.environ.get("PYLEARN_BLOBS")
    if not blobs:
        raise CacheError(
            f"a PostgreSQL cache ({masked_url(url)}) keeps its index in the database and its "
            "blobs in a directory every process can reach, and none was given. Pass "
            "Cache(url, blobs='/shared/dir') or set PYLEARN_BLOBS=/shared/dir."
        )
    store = DiskStore(blobs, durable=durable, trust=trust, force=force, index=PostgresIndex(url))
    store.scope = "shared"  # type: ignore[misc]  # hosts share the database and the blob dir
    return store


def _key_of(x: Any) -> str:
    key = getattr(x, "key", x)
    if not isinstance(key, str):
        raise TypeError(f"expected an Expr or a key string, received {type(x).__name__}")
    return key


_OPEN: dict[Any, Cache] = {}
_UNRELEASED: set[tuple[str, str, str | None]] = set()  # claims whose release failed
_OPEN_LOCK = threading.Lock()
_DEFAULT: Cache | None = None


def get_default_cache() -> Cache:
    """The session's default cache (created at :func:`default_cache_path` on first use)."""
    global _DEFAULT
    with _OPEN_LOCK:
        if _DEFAULT is None:
            try:
                _DEFAULT = Cache()
            except CacheError as exc:
                # e.g. a notebook in a read-only folder: runs must still work, uncached on disk
                warnings.warn(
                    f"the default cache directory cannot be used ({exc}). This session keeps "
                    "results in memory only; to keep them, set PYLEARN_CACHE to a writable "
                    "directory or call pylearn_lab.set_default_cache(path).",
                    CacheWarning, stacklevel=2,
                )
                _DEFAULT = Cache(":memory:")
        return _DEFAULT


def set_default_cache(cache: "Cache | str | os.PathLike[str] | None") -> Cache | None:
    """Set the session default: a Cache, a directory, or None (back to the default path)."""
    global _DEFAULT
    with _OPEN_LOCK:
        _DEFAULT = cache if isinstance(cache, Cache) or cache is None else Cache(cache)
        return _DEFAULT


def resolve_cache(cache: Any) -> Cache | None:
    """``run``'s ``cache=`` argument: None -> default, False -> no cache, path -> Cache.

    ``run`` calls it once at its start, which also opens a new window for cache
    warnings (each cause is reported once per run, :mod:`~pylearn_lab.cache.warn`).
    """
    new_run()
    if cache is None or cache is True:
        return get_default_cache()
    if cache is False:
        return None
    if isinstance(cache, Cache):
        return cache
    if isinstance(cache, (str, os.PathLike)):
        try:
            return Cache(cache)
        except CacheError as exc:
            if not getattr(exc, "disk_full", False):
                raise  # a wrong path: say so at the call
            # a full disk at creation: the run goes on, uncached, and says so once
            warn_once(str(cache), "unusable", f"the cache {cache} cannot be used ({exc}); this "
                      "run goes on uncached.")
            return None
    raise TypeError(
        f"cache= expected a Cache, a directory path, None (the session default) or False "
        f"(no caching), received {type(cache).__name__}."
    )
