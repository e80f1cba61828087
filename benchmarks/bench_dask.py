"""P15a: DaskBackend against raw dask.distributed ``client.map`` (the P6/P7 shape).

One ``DaskBackend.start(n=2)`` cluster (``LocalCluster`` of 2 worker processes x
1 thread on 127.0.0.1, no dashboard) serves both sides, so anchor and ours use
the same workers in the same run:

* anchor -- ``client.gather(client.map(tiny_raw, range(2000)))`` with new
  arguments every repeat (dask reuses futures of identical pure tasks);
* ours -- 2,000 independent tiny nodes through the VM (keys, plan, claims,
  cache writes on the workers), once one node per task (``batch_cap=1``) and
  once with tiny-node batching.

Every repeat of ours uses a new ``salt``, so every node computes.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from _harness import Config, Row, median_time

__all__ = ["BENCHMARKS", "bench_p15a", "teardown", "tiny", "tiny_raw"]

HERE = Path(__file__).resolve().parent


def tiny(i: int, salt: int = 0) -> int:
    """A node that costs nothing (the overheads are what is measured)."""
    return i + salt


def tiny_raw(i: int) -> int:
    """The anchor's function: the same work as :func:`tiny`."""
    return i + 1


class _Session:
    backend: Any = None
    tmp: ClassVar[list[tempfile.TemporaryDirectory[str]]] = []
    comp: Any = None
    salt: ClassVar[list[int]] = [10**9]


def _session() -> type[_Session]:
    if _Session.backend is None:
        import pylearn_lab as pl

        _Session.backend = pl.DaskBackend.start(n=2)
        # the anchor's client.map pickles tiny_raw by reference: let workers import this module
        _Session.backend.client.run(sys.path.insert, 0, str(HERE))
        _Session.comp = pl.component(tiny)
    return _Session


def teardown() -> None:
    """Stop the cluster this module started and remove its caches."""
    if _Session.backend is not None:
        _Session.backend.stop()
        _Session.backend = None
    for t in _Session.tmp:
        t.cleanup()
    _Session.tmp.clear()


def _cache() -> Any:
    import pylearn_lab as pl

    t = tempfile.TemporaryDirectory(prefix="pylearn-bench-dask-")
    _Session.tmp.append(t)
    return pl.Cache(os.path.join(t.name, "cache"))


def _graph(n: int) -> list[Any]:
    _Session.salt[0] += 1_000_000
    return [_Session.comp(i, salt=_Session.salt[0]) for i in range(n)]


def bench_p15a(cfg: Config) -> list[Row]:
    """P15a rows: 2,000 tiny nodes on DaskBackend vs raw ``client.map`` on the same cluster."""
    from pylearn_lab import run

    s = _session()
    backend = s.backend
    client = backend.client
    n = cfg.pick(2000, 200)
    reps = cfg.pick(3, 1)
    base = [0]

    def dask_map() -> None:
        base[0] += n
        futures = client.map(tiny_raw, range(base[0], base[0] + n))
        client.gather(futures)
        del futures

    cache = _cache()

    def ours() -> None:
        out = run(_graph(n), backend=backend, cache=cache, progress=False, timeout=600)
        assert len(out) == n

    dask_map()  # warm up
    run(_graph(20), backend=backend, cache=cache, progress=False)  # store probe, imports
    t_raw = median_time(dask_map, reps)
    cap = backend.batch_cap
    try:
        backend.batch_cap = 1
        t_single = median_time(ours, reps)
    finally:
        backend.batch_cap = cap
    t_batched = median_time(ours, reps)
    anchor = "dask LocalCluster(2x1) client.map"
    rate = lambda t: f"{n / t:,.0f} nodes/s"  # noqa: E731
    return [
        Row("P15a", f"{n:,} tiny nodes on DaskBackend, tiny-node batching", anchor, t_raw,
            t_batched, "s", target=1.0,
            note=f"raw client.map {rate(t_raw)}; ours {rate(t_batched)} batched, "
                 f"{rate(t_single)} one per task (keys, plan, claims, cache writes on workers)"),
        Row("P15a", f"  {n:,} tiny nodes on DaskBackend, one per task  [info]", anchor, t_raw,
            t_single, "s"),
    ]


BENCHMARKS = {"P15a": bench_p15a}
