"""``SqliteIndex.insert_many`` keeps ``insert``'s checks row by row while asking in bulk.

A batch that holds a key already stored, the same key twice, a key deleted
after its generation began (a newer tombstone), one deleted before (an older
tombstone), a row whose publish fails, and more than one query chunk (500
keys) of fresh rows: exactly the rows ``insert`` would take are taken, each
publish runs once, and the first value of a duplicated key wins.
"""

from __future__ import annotations

from pylearn_lab.cache.sqlite_index import SqliteIndex


def _row(key: str, gen: int = 10, publish=None, inline: bytes = b"v") -> tuple:
    return (key, "pickle", len(inline), "c", None, inline, "mac", {"label": key}, gen, publish)


def test_insert_many_takes_exactly_what_insert_would(tmp_path) -> None:
    ix = SqliteIndex(tmp_path / "index.sqlite")
    ix.insert(*_row("old")[:9])
    ix.locked(lambda t: (t.set_tomb("dead-later", 20), t.set_tomb("dead-before", 5)))
    published: list[str] = []

    def publish(key: str, fail: bool = False):
        def go() -> None:
            published.append(key)
            if fail:
                raise OSError("temp file vanished")
        return go

    fresh = [f"k{i:04d}" for i in range(1203)]  # three query chunks
    rows = [_row("old"), _row("twice", inline=b"first"), _row("twice", inline=b"second"),
            _row("dead-later"), _row("dead-before", publish=publish("dead-before")),
            _row("broken", publish=publish("broken", fail=True)),
            *[_row(k) for k in fresh]]
    done = ix.insert_many(rows)
    assert done == {"twice", "dead-before", *fresh}
    assert published == ["dead-before", "broken"]  # each publish once, rejected rows none
    assert ix.fetch("twice") is not None and b"first" in [v for v in ix.fetch("twice")
                                                          if isinstance(v, bytes)]
    assert ix.present(["old", "dead-later", "broken", "k1202"]) == {"old", "k1202"}
    assert ix.stats()[0] == 1 + 2 + len(fresh)
    assert ix.insert_many([_row("k0000")]) == set()  # present now: a second batch takes nothing
