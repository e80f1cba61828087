"""``%pylearn cache [DIR] | info | ls [FUNC] | clear [FUNC] | prune --max-size S | verify``.

Every subcommand is one call on the session's :class:`~pylearn_lab.Cache`
(``get_default_cache()``); ``%pylearn cache DIR`` replaces it with
``set_default_cache(DIR)``. ``FUNC`` is a component or function in the
namespace, a registered component's name, a stored ``module.qualname``, or
``%%pylearn`` for cached cells.

Examples
--------
>>> from pylearn_lab.cache import Cache
>>> c = Cache(":memory:")
>>> _ = c.save("a" * 32, 1, {"func": "m.f", "label": "f", "duration": 2.0})
>>> print(ls_text(c, None))  # doctest: +ELLIPSIS
key           function  label  duration  size ...
aaaaaaaaaaaa  m.f       f      2.0 s     ... B
1 entry
"""

from __future__ import annotations

import datetime as dt
from typing import Any


from ..cache.cache import Cache, format_size, parse_size
from ..cache.postgres_index import is_database_url, masked_url
from ..errors import CacheError
from ..hashing.functions import qualified_name
from .cell import describe_seconds
from .session import MagicUsageError

__all__ = ["clear", "func_name", "info_text", "ls_text", "open_cache", "prune", "select", "trust",
           "verify"]


def open_cache(where: str, max_bytes: int | None = None, blobs: str | None = None,
               key: str | None = None) -> Cache:
    """The :class:`Cache` at ``where`` for ``%pylearn cache DIR`` or, for a team cache,
    ``%pylearn cache postgresql://... --blobs DIR [--key FILE]``.

    Raises
    ------
    UsageError
        When the directory or database cannot be used (a file in the way, no
        permission, no server): one line in the notebook instead of the
        ``CacheError`` traceback. A database URL is shown without its password.

    Examples
    --------
    >>> open_cache(":memory:").location
    ':memory:'
    >>> open_cache("postgresql://ann:pw@127.0.0.1:9/x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pylearn_lab.magics.session.MagicUsageError: %pylearn cache postgresql://ann@127.0.0.1:9/x: a team cache keeps ... --blobs DIR ...
    """
    if is_database_url(where):
        return _open_team(where, max_bytes, blobs, key)
    if blobs is not None:
        raise MagicUsageError(
            f"%pylearn cache: --blobs goes with a postgresql:// database URL (a team cache), "
            f"received the directory {where!r:.80}. Drop --blobs, or pass the database URL.")
    try:
        return Cache(where, max_bytes=max_bytes, trust=key)
    except (ValueError, RuntimeError, UnicodeError) as exc:  # odd text that is no path at all
        raise MagicUsageError(
            f"%pylearn cache expected a directory path, received {where!r:.80} ({exc}). "
            "Pass a plain path, e.g. %pylearn cache ./pylearn-cache; the session cache is "
            "unchanged.") from None
    except CacheError as exc:
        # the OSError behind it names the cause in a few words ("Not a directory")
        reason = getattr(exc.__context__, "strerror", None)
        detail = f"({reason})" if reason else "(" + " ".join(str(exc).split()) + ")"
        raise MagicUsageError(
            f"%pylearn cache expected a directory that exists or can be created, received "
            f"{where!r} {detail}. Pass a writable path, e.g. %pylearn cache ./pylearn-cache; "
            "the session cache is unchanged."
        ) from None


def _open_team(url: str, max_bytes: int | None, blobs: str | None, key: str | None) -> Cache:
    shown = masked_url(url)
    if blobs is None:
        import os

        if not os.environ.get("PYLEARN_BLOBS"):
            raise MagicUsageError(
                f"%pylearn cache {shown}: a team cache keeps its blobs in a shared directory "
                "and none was given. Pass --blobs DIR (and --key FILE, the team key file), "
                "or set PYLEARN_BLOBS; the session cache is unchanged.")
    try:
        return Cache(url, max_bytes=max_bytes, blobs=blobs, trust=key)
    except (CacheError, ValueError, TypeError) as exc:
        # messages built by the cache never name the password; the URL is masked here too
        text = " ".join(str(exc).split()).replace(url, shown)
        raise MagicUsageError(f"%pylearn cache {shown}: {text} The session cache is unchanged."
                              ) from None


def trust(where: str, key: str | None = None, reset: bool = False) -> Cache:
    """``%pylearn cache trust DIR [--key FILE | --reset]``: the cache at ``where``, trusted.

    Without options the directory's entries are adopted: you vouch for them (they
    may run code when loaded) and they are re-signed with your key.
    """
    if key and reset:
        raise MagicUsageError("%pylearn cache trust: pass --key or --reset, not both.")
    how: Any = key if key else ("reset" if reset else True)
    try:
        return Cache(where, trust=how)
    except CacheError as exc:
        raise MagicUsageError(f"%pylearn cache trust {where}: " + " ".join(str(exc).split())
                              ) from None


def func_name(func: Any) -> str:
    """The ``func`` column value of records for a component, function or name."""
    if isinstance(func, str):
        from ..graph.registry import lookup

        if "." not in func and not func.startswith("%"):
            try:
                return str(lookup(func).qualname)
            except Exception:  # not a registered component: keep the text as given
                return func
        return func
    return str(getattr(func, "qualname", None) or qualified_name(func))


def select(cache: Cache, func: Any) -> list[Any]:
    """Records of ``func`` (all when None); falls back to matching the label."""
    if func is None:
        return cache.records()
    name = func_name(func)
    recs = cache.records(func=name)
    if not recs and isinstance(func, str):
        recs = [r for r in cache.records() if r.label == func]
    return recs


def _when(t: float) -> str:
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M") if t else ""


def ls_text(cache: Cache, func: Any, limit: int = 50) -> str:
    """A table of entries, most recent last (at most ``limit`` rows)."""
    recs = sorted(select(cache, func), key=lambda r: r.created or 0.0)
    if not recs:
        what = "" if func is None else f" for {func_name(func)}"
        return f"no cache entries{what} in {cache.location}"
    shown = recs[-limit:]
    rows = [("key", "function", "label", "duration", "size", "created")]
    rows += [(r.key[:12], r.func, r.label, describe_seconds(r.duration or 0.0),
              format_size(r.size), _when(r.created)) for r in shown]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    more = len(recs) - len(shown)
    lines.append(f"{len(recs)} entr{'y' if len(recs) == 1 else 'ies'}"
                 + (f" ({more} older not shown)" if more else ""))
    return "\n".join(lines)


def clear(cache: Cache, func: Any) -> str:
    """Remove every entry, or those of ``func``."""
    if func is None:
        n = cache.clear()
        return f"removed {n} entr{'y' if n == 1 else 'ies'} from {cache.location}"
    n = sum(cache.invalidate(r.key) for r in select(cache, func))
    return f"removed {n} entr{'y' if n == 1 else 'ies'} of {func_name(func)}"


def prune(cache: Cache, max_size: str) -> str:
    """Drop least recently used entries down to ``max_size``."""
    try:
        limit = parse_size(max_size)
    except ValueError as exc:
        raise MagicUsageError(f"--max-size: {exc}") from None
    assert limit is not None
    n = cache.prune(limit)
    info = cache.info()
    return (f"pruned {n} entr{'y' if n == 1 else 'ies'}; {info.entries} left, "
            f"{format_size(info.bytes)} (limit {format_size(limit)})")


def verify(cache: Cache) -> str:
    """Checksum every entry, repairing what is broken."""
    return str(cache.verify(repair=True))


def info_text(cache: Cache) -> str:
    """Location, size, entries, this session's hit rate."""
    return str(cache.info())
