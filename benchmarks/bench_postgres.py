"""P15b/P15c: the PostgreSQL index against SQLite (P2 and P9 shapes); queue throughput.

The server is ``$PYLEARN_BENCH_PG_URL`` when set (an empty database you own),
else a throwaway one started like the tests' fixture (``tests/pg_fixtures.py``:
Debian's binaries as an unprivileged user, 127.0.0.1, a temporary directory;
``fsync=off``, as a test server). Both indexes are measured in the same run:

* hits -- ``call(f, (1, 2)).result()`` and ``Cache.lookup`` of a precomputed key
  (the storage floor), each with a PostgreSQL index vs a SQLite index; a hit
  is one indexed ``SELECT`` and the value comes from the row (no file open),
  so the difference is one loopback round trip to the server;
* planning -- keys plus cache lookups of a 100,000-node graph against an index
  of 1,000,000 rows (P9's graph and fill), PostgreSQL vs SQLite, and
  PostgreSQL against P9's target rate (>= 50,000 nodes/s);
* P15c -- tiny nodes run as QueueBackend jobs by 2 ``python -m pylearn_lab
  worker`` processes (jobs/s), beside the same nodes on a 2-process pool.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _harness import Config, Row, per_call

__all__ = ["BENCHMARKS", "bench_p15b", "bench_p15c", "small_job"]

HERE = Path(__file__).resolve().parent
TARGET_RATE = 50_000.0


@contextlib.contextmanager
def _database() -> Iterator[str]:
    """A database URL for the run: ``$PYLEARN_BENCH_PG_URL`` or a throwaway server's."""
    import psycopg  # noqa: F401  (a clear ImportError -> the row says psycopg is missing)

    url = os.environ.get("PYLEARN_BENCH_PG_URL")
    if url:
        yield url
        return
    sys.path.insert(0, str(HERE.parent / "tests"))
    try:
        import pg_fixtures
    finally:
        sys.path.remove(str(HERE.parent / "tests"))
    bindir, why = pg_fixtures.find_or_install()
    if bindir is None:
        raise RuntimeError(why)
    root = Path(tempfile.mkdtemp(prefix="pylearn-bench-pg-"))
    with pg_fixtures.temporary_server(root, bindir) as server:
        yield server.new_database()


def _fill_postgres(cache: Any, present: list[str], total: int) -> None:
    """``present`` plus random keys up to ``total`` rows, with COPY (P9's fill, on the server)."""
    rng = np.random.default_rng(9)
    hexed = rng.bytes(16 * max(0, total - len(present))).hex()
    keys = present + [hexed[i : i + 32] for i in range(0, len(hexed), 32)]
    conn = cache.store.index._conn()
    with conn.cursor() as cur, cur.copy(
            "COPY pylearn_entries (key, kind, size, checksum, mac, func, last_access) "
            "FROM STDIN") as copy:
        buf = io.StringIO()
        for k in keys:
            buf.write(f"{k}\tpickle\t64\tc\tm\tbench_planning.step\t0\n")
        copy.write(buf.getvalue())
    conn.execute("ANALYZE pylearn_entries")


def _plan_rate(cache: Any, n: int, reps: int) -> float:
    import bench_planning

    times = []
    nodes = 0
    for _ in range(reps):
        t0 = time.perf_counter()
        outs, plan = bench_planning._plan(n, cache)
        times.append(time.perf_counter() - t0)
        nodes = len(plan.graph)
        del outs, plan
    return nodes / statistics.median(times)


def bench_p15b(cfg: Config) -> list[Row]:
    """P15b rows: hits and planning, PostgreSQL index vs SQLite index."""
    import bench_planning

    import pylearn_lab as pl
    from pylearn_lab.graph.component import as_component

    reps = cfg.repeats
    n_plan = cfg.pick(100_000, 10_000)
    index_rows = cfg.pick(1_000_000, 100_000)
    with _database() as url, tempfile.TemporaryDirectory(prefix="pylearn-bench-") as tmp:
        pg = pl.Cache(url, blobs=os.path.join(tmp, "team-blobs"))
        lite = pl.Cache(os.path.join(tmp, "sqlite"))
        comp = as_component(bench_planning.root)  # any small module-level function
        key = comp(1).key
        hits: dict[str, tuple[float, float]] = {}
        for name, cache in (("pg", pg), ("sqlite", lite)):
            assert pl.call(bench_planning.root, (1,), cache=cache).result() == 1.0
            assert cache.lookup(key) == (True, 1.0)
            hits[name] = (
                per_call(lambda c=cache: pl.call(bench_planning.root, (1,), cache=c).result(), reps),
                per_call(lambda c=cache: c.lookup(key), reps),
            )
        bench_planning._COMPONENTS = (bench_planning._component(bench_planning.root),
                                      bench_planning._component(bench_planning.step))
        present = bench_planning._present_keys(n_plan)
        t0 = time.perf_counter()
        _fill_postgres(pg, present, index_rows)
        t_fill_pg = time.perf_counter() - t0
        bench_planning._fill_index(lite, present, index_rows)
        plan_reps = cfg.pick(3, 1)
        rate_pg = _plan_rate(pg, n_plan, plan_reps)
        rate_lite = _plan_rate(lite, n_plan, plan_reps)
        rows_pg = pg.info().entries
        pg.close()
        lite.close()
    (call_pg, look_pg), (call_lite, look_lite) = hits["pg"], hits["sqlite"]
    anchor = "same, SQLite index"
    return [
        Row("P15b", "hit, small args: call(f, (1,)).result(), PostgreSQL index  [info]", anchor,
            call_lite, call_pg, "s",
            note=(f"hit {call_pg * 1e6:.0f} us (PostgreSQL) vs {call_lite * 1e6:.0f} us (SQLite); "
                  f"Cache.lookup {look_pg * 1e6:.0f} vs {look_lite * 1e6:.0f} us: the difference "
                  "is one loopback round trip to the server")),
        Row("P15b", "  Cache.lookup(precomputed key), PostgreSQL index  [info]", anchor,
            look_lite, look_pg, "s"),
        Row("P15b", f"plan {n_plan:,} nodes, PostgreSQL index of {rows_pg:,} rows  [info]",
            anchor, rate_lite, rate_pg, "nodes/s", higher_is_better=True,
            note=f"PostgreSQL index filled with COPY in {t_fill_pg:.1f} s"),
        Row("P15b", f"plan {n_plan:,} nodes, PostgreSQL index", "P9 target rate", TARGET_RATE,
            rate_pg, "nodes/s", target=1.0, higher_is_better=True,
            target_text=">= 50,000 nodes/s"),
    ]


def small_job(i: int, salt: int = 0) -> int:
    """P15c: a job that costs nothing (the queue's overheads are what is measured)."""
    return i + salt


def bench_p15c(cfg: Config) -> list[Row]:
    """P15c rows: QueueBackend throughput with 2 workers, against a local process pool."""
    import subprocess

    import pylearn_lab as pl

    n = cfg.pick(400, 60)
    reps = cfg.pick(3, 1)
    salt = [0]
    with _database() as url, tempfile.TemporaryDirectory(prefix="pylearn-bench-") as tmp:
        blobs = os.path.join(tmp, "team-blobs")
        cache = pl.Cache(url, blobs=blobs)
        comp = pl.component(small_job)
        queue = pl.QueueBackend(url, poll=0.02)  # the user's key, as the cache
        workers = [subprocess.Popen([sys.executable, "-m", "pylearn_lab", "worker", url,
                                     "--blobs", blobs, "--poll", "0.02"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for _ in range(2)]
        pool = pl.ProcessBackend(2)
        try:
            def through(backend: Any) -> float:
                salt[0] += 1_000_000
                exprs = [comp(i, salt=salt[0]) for i in range(n)]
                t0 = time.perf_counter()
                out = pl.run(exprs, backend=backend, cache=cache, progress=False, timeout=600)
                elapsed = time.perf_counter() - t0
                assert out[-1] == n - 1 + salt[0]
                return elapsed

            through(queue)  # warm up: both workers import, open the cache
            through(pool)
            t_queue = statistics.median(through(queue) for _ in range(reps))
            t_pool = statistics.median(through(pool) for _ in range(reps))
            seen = queue.status()["workers"]
        finally:
            queue.close()
            pool.close()
            for w in workers:
                w.terminate()
            for w in workers:
                try:
                    w.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    w.kill()
    return [Row("P15c", f"{n} tiny nodes as queue jobs, 2 workers  [info]",
                "ProcessBackend(2), same team cache", t_pool, t_queue, "s",
                note=(f"QueueBackend {n / t_queue:,.0f} jobs/s with {seen} workers (one job per "
                      f"node: insert, take with SKIP LOCKED, lease, result row, poll); process "
                      f"pool {n / t_pool:,.0f} nodes/s"))]


BENCHMARKS = {"P15b": bench_p15b, "P15c": bench_p15c}
