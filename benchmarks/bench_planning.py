"""P9: planning a 100,000-node graph against an index of 1,000,000 entries.

Planning is everything a run does before the first task leaves: building the
expressions (binding and keying every node) and the plan (the graph, its
topological order, and the cache lookups that decide which nodes are served).

The graph is 1,000 chains of 100 steps (``step(prev, i)``) growing from 10
shared roots -- the shape of a parameter sweep over a few datasets. The index
is filled fast with direct SQL inserts: the keys of the first half of every
chain (so planning stops there) plus random keys up to 1,000,000 rows.

Reported: nodes per second for 100,000 nodes (target >= 50,000/s; there is no
other library to compare with, so the anchor is the target rate), and the
Python memory per node at 10k / 50k / 100k nodes (linear growth: per-node
memory at the largest size within 1.25x of the smallest).
"""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
import tracemalloc
from typing import Any

import numpy as np
from _harness import Config, Row

__all__ = ["BENCHMARKS", "bench_p9", "build_exprs", "root", "step"]

CHAIN = 100  # steps per chain
ROOTS = 10
TARGET_RATE = 50_000.0


def _component(fn: Any) -> Any:
    from pylearn_lab import component

    return component(fn)


def root(dataset: int) -> float:
    """A shared input (a dataset)."""
    return float(dataset)


def step(prev: float, i: int, scale: float = 1.0) -> float:
    """One cheap step of a chain."""
    return prev * scale + i


def build_exprs(n_nodes: int) -> list[Any]:
    """The chain ends of a graph of ``n_nodes`` nodes (plus the shared roots)."""
    c_root, c_step = _COMPONENTS
    roots = [c_root(d) for d in range(ROOTS)]
    outs = []
    for j in range(max(1, n_nodes // CHAIN)):
        e = roots[j % ROOTS]
        e = c_step(e, j * CHAIN)  # the chain id makes every chain distinct
        for i in range(1, CHAIN):
            e = c_step(e, i, scale=0.5)
        outs.append(e)
    return outs


_COMPONENTS: tuple[Any, Any] = (None, None)


def _fill_index(cache: Any, present: list[str], total: int) -> None:
    """Insert ``present`` plus random keys up to ``total`` rows (one transaction)."""
    conn = cache.store.index._conn()  # the store's own connection: same file, same schema
    rng = np.random.default_rng(9)
    n_random = max(0, total - len(present))
    hexed = rng.bytes(16 * n_random).hex()
    keys = present + [hexed[i : i + 32] for i in range(0, len(hexed), 32)]
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT OR IGNORE INTO entries (key, kind, size, checksum, mac, func, last_access) "
        "VALUES (?, 'pickle', 64, 'c', 'm', 'bench_planning.step', 0)",
        ((k,) for k in keys))
    conn.execute("COMMIT")


def _plan(n_nodes: int, cache: Any, split: list[float] | None = None) -> tuple[Any, Any]:
    """Build the expressions and plan them; ``split`` receives (keys s, plan s)."""
    from pylearn_lab.vm.plan import make_plan

    t0 = time.perf_counter()
    outs = build_exprs(n_nodes)
    t1 = time.perf_counter()
    plan = make_plan(outs, cache)
    if split is not None:
        split[:] = [t1 - t0, time.perf_counter() - t1]
    return outs, plan


def _present_keys(n_nodes: int) -> list[str]:
    """Keys of the first half of every chain (what a half-finished sweep left)."""
    keys: list[str] = []
    for out in build_exprs(n_nodes):
        chain = [e for e in out.walk() if e.label == "step"]
        keys += [e.key for e in chain[: CHAIN // 2]]
    return keys


def bench_p9(cfg: Config) -> list[Row]:
    """P9 rows: planning rate at the largest size and memory linearity."""
    global _COMPONENTS
    from pylearn_lab import Cache

    _COMPONENTS = (_component(root), _component(step))
    sizes = cfg.pick((10_000, 50_000, 100_000), (2_000, 5_000, 10_000))
    index_rows = cfg.pick(1_000_000, 100_000)
    reps = cfg.pick(3, 1)
    big = sizes[-1]
    with tempfile.TemporaryDirectory(prefix="pylearn-bench-") as tmp:
        cache = Cache(os.path.join(tmp, "cache"))
        t0 = time.perf_counter()
        _fill_index(cache, _present_keys(big), index_rows)
        t_fill = time.perf_counter() - t0
        n_entries = cache.info().entries
        rates: dict[int, float] = {}
        splits: list[list[float]] = []
        cached_frac = 0.0
        for n in sizes:
            times = []
            for _ in range(reps):
                gc.collect()
                split: list[float] = []
                t0 = time.perf_counter()
                outs, plan = _plan(n, cache, split)
                times.append(time.perf_counter() - t0)
                nodes = len(plan.graph)
                cached_frac = len(plan.cached) / nodes
                if n == big:
                    splits.append(split)
                del outs, plan
            rates[n] = nodes / statistics.median(times)
        # the same, with the cyclic garbage collector paused: how much of it is GC
        nogc = []
        for _ in range(reps):
            gc.collect()
            gc.disable()
            try:
                t0 = time.perf_counter()
                outs, plan = _plan(big, cache)
                nogc.append(time.perf_counter() - t0)
                nodes = len(plan.graph)
            finally:
                gc.enable()
            del outs, plan
        rate_nogc = nodes / statistics.median(nogc)
        t_keys = statistics.median(s[0] for s in splits)
        t_plan = statistics.median(s[1] for s in splits)
        per_node: dict[int, float] = {}
        for n in sizes:  # memory pass (tracemalloc slows allocation: never timed)
            gc.collect()
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            outs, plan = _plan(n, cache)
            used = tracemalloc.get_traced_memory()[0] - base
            nodes = len(plan.graph)
            tracemalloc.stop()
            per_node[n] = used / nodes
            del outs, plan
        cache.close()
    lo, hi = sizes[0], sizes[-1]
    mem_note = ", ".join(f"{n // 1000}k: {per_node[n]:,.0f} B/node" for n in sizes)
    rate_note = ", ".join(f"{n // 1000}k: {rates[n]:,.0f}/s" for n in sizes)
    return [
        Row("P9", f"plan {big:,} nodes (keys + lookups), index of {n_entries:,} rows",
            "target rate", TARGET_RATE, rates[big], "nodes/s", target=1.0, higher_is_better=True,
            target_text=">= 50,000 nodes/s",
            note=(f"rates {rate_note}; at {big // 1000}k: keys {t_keys / big * 1e6:.1f} us/node, "
                  f"plan {t_plan / big * 1e6:.1f} us/node; {cached_frac:.0%} of nodes served "
                  f"by the index; index filled in {t_fill:.1f} s")),
        Row("P9", "  same, cyclic GC paused during planning  [info]", "target rate", TARGET_RATE,
            rate_nogc, "nodes/s", higher_is_better=True),
        Row("P9", f"memory per node, {hi // 1000}k vs {lo // 1000}k nodes", f"B/node at {lo // 1000}k",
            per_node[lo], per_node[hi], "B/node", target=0.8,
            target_text="linear (<= 1.25x)", note=f"memory {mem_note}"),
    ]


BENCHMARKS = {"P9": bench_p9}
