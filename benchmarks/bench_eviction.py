"""S1: the cost of a save under ``max_bytes`` in a cache of 100,000 entries.

Every save checks the cap; over it, least recently used entries go, each
leaving a signed tombstone. The old store selected every row on each
over-cap save (152 ms per save at 100,000 entries); the anchor here is that
same query timed on the same index, side by side. Ours: eviction reads only the
rows it drops and frees 2 % below the cap at once, so most saves do nothing.
Reported: mean and worst time per save over a series of saves that all push
the cache over its cap.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

from _harness import Config, Row


def bench_s1(cfg: Config) -> list[Row]:
    import pylearn_lab as pl

    n = cfg.pick(100_000, 5_000)
    saves = cfg.pick(2_000, 200)
    with tempfile.TemporaryDirectory(prefix="pylearn-bench-") as tmp:
        cache = pl.Cache(os.path.join(tmp, "cache"))
        ix = cache.store.index
        # fill through the index in one transaction (100,000 saves would take minutes of
        # the benchmark's time); rows are real signed rows of small values
        value_key = [f"{i:032x}" for i in range(n)]
        t0 = time.perf_counter()
        for k in value_key[: min(n, 2_000)]:
            cache.save(k, 1.0)
        per_save_fill = (time.perf_counter() - t0) / min(n, 2_000)
        rows = ix.signed_rows()
        template = list(rows[0])
        conn = ix._conn()
        conn.execute("BEGIN")
        for k in value_key[2_000:]:
            conn.execute("INSERT INTO entries (key, kind, size, checksum, blob, inline, mac, gen, "
                         "created, last_access) SELECT ?, kind, size, checksum, blob, inline, mac, "
                         "gen, created, ? FROM entries WHERE key = ?", (k, time.time(), value_key[0]))
        conn.execute("COMMIT")
        del template
        entries, total = cache.info().entries, cache.info().bytes
        cache.max_bytes = total  # every further save pushes it over the cap
        # the anchor: the old victim query (every row, sorted) on the same index
        t_old = statistics.median(_timed(lambda: conn.execute(
            "SELECT key, size FROM entries ORDER BY last_access, created").fetchall())
            for _ in range(cfg.pick(5, 2)))
        times = []
        for i in range(saves):
            t = time.perf_counter()
            cache.save(f"{n + i:032x}", float(i))
            times.append(time.perf_counter() - t)
        cache.close()
    mean, worst = statistics.mean(times), max(times)
    return [
        Row("S1", f"save under max_bytes at {entries:,} entries, mean of {saves} saves "
            "(target <= 5 ms)", "old eviction query", t_old, mean, "s",
            target_text="<= 5 ms", verdict=mean <= 0.005,
            note=f"worst save {worst * 1e3:.1f} ms; a save under the cap {per_save_fill * 1e3:.2f} ms"),
    ]


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


BENCHMARKS = {"S1": bench_s1}
