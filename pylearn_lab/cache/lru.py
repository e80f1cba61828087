"""Least-recently-used victims, read page by page: one walk for every index.

An index supplies ``page(limit, offset) -> [(key, size), ...]`` in ``last_access``
order (its own SQL); :func:`pick_victims` reads only as many rows as it drops, in
pages that grow fourfold, so a save under the cap never scans the table.

Examples
--------
>>> rows = [("a", 5), ("b", 5), ("c", 5)]
>>> pick_victims(15, 6, lambda n, off: rows[off:off + n])
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["pick_victims"]


def pick_victims(total: int, goal: int,
                 page: Callable[[int, int], Sequence[tuple[str, Any]]]) -> list[str]:
    """Keys, oldest first, whose removal brings ``total`` bytes down to ``goal``."""
    victims: list[str] = []
    batch, offset = 64, 0
    while total > goal:
        rows = page(batch, offset)
        if not rows:
            break
        for key, size in rows:
            if total <= goal:
                break
            victims.append(key)
            total -= size
        offset += len(rows)
        batch *= 4
    return victims
