"""Run every benchmark of PERFORMANCE.md in one process and print one table.

Usage::

    python benchmarks/run_all.py                 # P1-P10, full sizes
    python benchmarks/run_all.py --only P1,P2    # a subset
    python benchmarks/run_all.py --quick         # small sizes, few repeats (smoke run)

Each row: id, measure, anchor, anchor figure, our figure, ratio (anchor time /
our time, or our rate / anchor rate), target, PASS/FAIL. Rows marked
``[info]`` have no target and are context for the row that counts. A
benchmark that cannot run (e.g. no ipyparallel backend yet) prints an
``ERROR`` or ``SKIP`` row with the reason instead of stopping the run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(1, str(ROOT))

from _harness import Config, Row, format_table

IDS = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P13", "P14",
       "P15a", "P15b", "P15c", "S1")
MEASURES = {
    "P1": "hashing a 100 MiB array",
    "P2": "cache hit, small args",
    "P3": "cache hit, 100 MiB array argument",
    "P4": "cache hit returning a 100 MiB array",
    "P5": "100 MiB intermediate to a downstream engine",
    "P6": "2,000 tiny nodes on 2 ipyparallel engines",
    "P7": "2,000 tiny nodes vs dask.distributed",
    "P8": "re-running a cached 1,000-node graph",
    "P9": "planning a 100,000-node graph",
    "P10": "hashing a 1,000,000-row mixed DataFrame",
}
MEASURES["P15a"] = "2,000 tiny nodes on DaskBackend vs client.map"
MEASURES["P15b"] = "PostgreSQL index: hits and planning vs SQLite"
MEASURES["P15c"] = "QueueBackend jobs/s with 2 workers"

MEASURES["P14"] = "extending a 100-epoch training to 200; checkpoint overhead"
MEASURES["S1"] = "a save under max_bytes at 100,000 entries (eviction)"
MEASURES["P13"] = "scikit-learn model selection (4 families, 5-fold CV)"
IDS = (*IDS, "P11", "P12")  # the multi-host data plane (bench_hosts.py)
MEASURES["P11"] = "400 MiB of intermediates, 3 engines on other hosts"
MEASURES["P12"] = "stored throughput of tiny nodes on 3 engines"


def _registry() -> tuple[dict[str, Callable[[Config], list[Row]]], list[Callable[[], None]]]:
    """Benchmark functions by id, and the teardown hooks of their modules."""
    import bench_cache
    import bench_hashing
    import bench_planning

    modules: list[Any] = [bench_hashing, bench_cache, bench_planning]
    import bench_eviction

    modules.append(bench_eviction)
    try:
        import bench_cluster

        modules.append(bench_cluster)
    except ImportError:  # the cluster benchmarks need ipyparallel (and dask for P7)
        pass
    try:
        import bench_training

        modules.append(bench_training)
    except ImportError:  # the training benchmark needs the training package
        pass
    for name in ("bench_dask", "bench_postgres"):  # P15a needs dask, P15b psycopg
        try:
            modules.append(__import__(name))
        except ImportError:
            pass
    try:
        import bench_sklearn

        modules.append(bench_sklearn)
    except ImportError:  # P13 needs scikit-learn
        pass
    try:
        import bench_hosts

        modules.append(bench_hosts)
    except ImportError:  # P11-P12 need ipyparallel
        pass
    table: dict[str, Callable[[Config], list[Row]]] = {}
    for m in modules:
        table.update(m.BENCHMARKS)
    return table, [m.teardown for m in modules if hasattr(m, "teardown")]


def _parse_ids(text: str | None) -> list[str]:
    if not text:
        return list(IDS)
    canon = {i.upper(): i for i in IDS}  # "p15a" -> "P15a"
    ids = [canon.get(t.strip().upper(), t.strip().upper()) for t in text.split(",") if t.strip()]
    unknown = [i for i in ids if i not in IDS]
    if unknown:
        raise SystemExit(f"run_all.py: unknown id(s) {', '.join(unknown)}; expected some of {', '.join(IDS)}")
    return ids


def _run_one(bid: str, fn: Callable[[Config], list[Row]] | None, cfg: Config) -> list[Row]:
    """The rows of one benchmark; an ERROR/SKIP row when it cannot run."""
    if fn is None:
        return [Row(bid, MEASURES[bid], "-", None, None, "s", skipped=True,
                    error="not available here (its benchmark module could not be imported)")]
    t0 = time.perf_counter()
    try:
        rows = fn(cfg)
    except Exception as exc:  # noqa: BLE001 -- one broken benchmark must not hide the others
        traceback.print_exc(file=sys.stderr)
        rows = [Row(bid, MEASURES[bid], "-", None, None, "s",
                    error=f"{type(exc).__name__}: {exc}".splitlines()[0][:300])]
    print(f"  {bid} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks and print the table; exit status 0 unless a row is ERROR."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated ids, e.g. P1,P2 (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per measurement (median)")
    args = parser.parse_args(argv)
    ids = _parse_ids(args.only)
    cfg = Config(quick=args.quick, repeats=args.repeats or (3 if args.quick else 7))
    table, teardowns = _registry()
    import numpy as np

    print(f"pylearn_lab benchmarks ({'quick' if cfg.quick else 'full'}): python "
          f"{platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} cpus, "
          f"{len(ids)} benchmark(s), median of {cfg.repeats} repeats", flush=True)
    rows: list[Row] = []
    try:
        for bid in ids:
            rows.extend(_run_one(bid, table.get(bid), cfg))
    finally:
        for hook in teardowns:  # stop the clusters the benchmarks started
            try:
                hook()
            except Exception as exc:  # noqa: BLE001 -- report, and stop the others too
                print(f"  teardown: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(format_table(rows), flush=True)
    return 1 if any(r.status == "ERROR" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
