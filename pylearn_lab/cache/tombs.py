"""The deletion log: entries invalidated, cleared or evicted stay dead.

Someone who can write the cache directory can copy an entry's row and blob
aside and put them back after the owner deleted it; both still carry valid
MACs. So every deletion leaves a *tombstone* ``(key, gen)`` -- the time it
happened -- and a row whose generation (the time its write began) is not newer
than its key's tombstone is refused as replayed.

Removing a tombstone to revive an entry must not work either: the log carries a
signed summary -- how many deletions ever happened (``c``), and the XOR of a
keyed tag of every ``(key, gen)`` (``x``) -- checked once per process on first
use and by ``verify()``. Rolling the whole index back to an older copy keeps it
consistent, so the highest ``c`` this user has seen is also kept with the user
(``~/.local/share/pylearn_lab/caches/<cache id>``) and a smaller one is refused.

Examples
--------
>>> from pylearn_lab.cache.auth import Signer
>>> log = Summary.empty()
>>> log = log.replaced(Signer(b"k" * 32), "key1", None, 5)
>>> log.c, log.n
(1, 1)
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

from .auth import Signer
from .keyring import user_data_dir

__all__ = ["Summary", "seen_count", "record_seen"]


def _elem(signer: Signer, key: str, gen: int) -> int:
    return int(signer.tag(f"tomb|{key}|{gen}")[:32], 16)


@dataclass(frozen=True)
class Summary:
    """Signed state of the deletion log."""

    c: int  # deletions ever made (monotonic)
    n: int  # tombstones in the table
    x: int  # XOR of the keyed tags of (key, gen) of every tombstone
    last: int  # time (ns) of the latest deletion

    @classmethod
    def empty(cls) -> "Summary":
        return cls(0, 0, 0, 0)

    def replaced(self, signer: Signer, key: str, old: int | None, new: int) -> "Summary":
        """The summary after ``key``'s tombstone went from ``old`` (None: none) to ``new``."""
        x = self.x ^ _elem(signer, key, new)
        if old is not None:
            x ^= _elem(signer, key, old)
        return Summary(self.c + 1, self.n + (old is None), x, max(self.last, new))

    def dumps(self, signer: Signer, cache_id: str) -> str:
        body = f"{self.c}|{self.n}|{self.x:032x}|{self.last}"
        return json.dumps({"s": body, "mac": signer.tag(f"tomblog|{cache_id}|{body}")})

    @classmethod
    def loads(cls, text: str | None, signer: Signer, cache_id: str) -> "Summary | None":
        """The summary stored as ``text``; None when it does not verify."""
        if text is None:
            return cls.empty()
        try:
            data = json.loads(text)
            body = data["s"]
            if not signer.tag_ok(data.get("mac"), f"tomblog|{cache_id}|{body}"):
                return None
            c, n, x, last = body.split("|")
            return cls(int(c), int(n), int(x, 16), int(last))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def matches(self, signer: Signer, rows: list[tuple[str, int]]) -> bool:
        """True when ``rows`` (the tombstone table) is exactly what this summary signed."""
        if len(rows) != self.n:
            return False
        x = 0
        for key, gen in rows:
            x ^= _elem(signer, key, int(gen))
        return x == self.x


def _seen_path(cache_id: str) -> str:
    return os.path.join(user_data_dir(), "caches", f"{cache_id}.json")


def seen_count(cache_id: str) -> tuple[int, int]:
    """``(c, last)``: the most deletions and latest deletion this user saw in that cache."""
    if not cache_id.isalnum():
        return 0, 0
    try:
        with open(_seen_path(cache_id), "rb") as f:
            data: Any = json.loads(f.read(4096))
        return int(data["c"]), int(data["last"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0, 0


def record_seen(cache_id: str, summary: Summary) -> None:
    """Remember ``summary``'s count for rollback detection (best effort)."""
    if not cache_id.isalnum():
        return
    c, last = seen_count(cache_id)
    if summary.c <= c and summary.last <= last:
        return
    path = _seen_path(cache_id)
    tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"c": max(c, summary.c), "last": max(last, summary.last)}, f)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
