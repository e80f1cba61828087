"""P1: hashing a 100 MiB array argument; P10: hashing a 1,000,000-row mixed DataFrame.

Anchors, measured in the same run on the same data:

* ``joblib.hash(a)`` -- what ``joblib.Memory`` pays per call for an argument;
* a read-only pass, ``np.add.reduce`` over a ``uint64`` view -- the memory
  bandwidth floor: no hash can be faster than reading the bytes once;
* ``dask.base.tokenize(df)`` -- what dask keys a DataFrame with (P10).

Ours is :func:`pylearn_lab.hash_value`, the function every key goes through
(BLAKE3, spread over all cores for large buffers). P1 also reports the first
key of a fresh interpreter (package versions looked up once, not rescanned).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _harness import Config, Row, median_time

__all__ = ["BENCHMARKS", "bench_p1", "bench_p10", "mixed_frame"]

_FIRST_KEY = r"""
import json, time
import numpy as np, scipy.linalg, sklearn.linear_model, pandas as pd
import pylearn_lab as pl

@pl.component
def f(x, est, agg=np.mean, solve=scipy.linalg.solve, frame=None):
    return agg(x)

t0 = time.perf_counter()
f(np.arange(10.0), sklearn.linear_model.Ridge(), frame=pd.DataFrame({"a": [1]}))
print(json.dumps(time.perf_counter() - t0))
"""


def _first_key_seconds(repeats: int) -> float:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    times = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _FIRST_KEY], env=env, capture_output=True,
                             text=True, timeout=300, check=True)
        times.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return sorted(times)[len(times) // 2]


def bench_p1(cfg: Config) -> list[Row]:
    """P1 rows: vs ``joblib.hash`` (>= 10x), vs a read-only pass (>= 0.25x), first key (<= 50 ms)."""
    import blake3
    import joblib

    from pylearn_lab import hash_value

    size = cfg.big_bytes
    a = np.random.default_rng(0).random(size // 8)
    u = a.view(np.uint64)
    raw = a.view(np.uint8)
    reps = cfg.repeats
    ours = median_time(lambda: hash_value(a), reps)
    read = median_time(lambda: np.add.reduce(u), reps)
    one = median_time(lambda: blake3.blake3(raw, max_threads=1).digest(), reps)
    jl = median_time(lambda: joblib.hash(a), max(3, reps // 2))
    first = _first_key_seconds(cfg.pick(5, 1))
    mib = size // 2**20
    gbs = lambda t: size / t / 1e9
    return [
        Row("P1", f"hash a {mib} MiB float64 array (blake3)", "joblib.hash", jl, ours, "s", target=10.0,
            note=(f"hash_value {gbs(ours):.1f} GB/s on {os.cpu_count()} cores (blake3 one thread "
                  f"{gbs(one):.1f} GB/s), joblib.hash {gbs(jl):.2f} GB/s, read-only pass "
                  f"{gbs(read):.1f} GB/s")),
        Row("P1", f"hash a {mib} MiB array vs reading it", "np.add.reduce(u64 view)", read, ours,
            "s", target=0.25, target_text=">= 0.25x"),
        Row("P1", "  same, blake3 on one thread  [info]", "np.add.reduce(u64 view)", read, one, "s"),
        Row("P1", "first key of a fresh session", "target 50 ms", 0.050, first, "s", target=1.0,
            target_text="<= 50 ms"),
    ]


def mixed_frame(n: int) -> object:
    """The P10 frame: ints, floats, strings, categorical, datetime, ``n`` rows."""
    import pandas as pd

    r = np.random.default_rng(0)
    words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"])
    return pd.DataFrame({
        "i": r.integers(0, 1_000, n),
        "f": r.random(n),
        "s": pd.array(words[r.integers(0, len(words), n)].astype(object) + "_"
                      + r.integers(0, 100, n).astype(str).astype(object), dtype="str"),
        "c": pd.Categorical(words[r.integers(0, 3, n)]),
        "t": pd.date_range("2020-01-01", periods=n, freq="s"),
    })


def bench_p10(cfg: Config) -> list[Row]:
    """P10 rows: a mixed 1,000,000-row DataFrame vs joblib.hash (>= 10x) and dask tokenize (>= 2x)."""
    import joblib
    from dask.base import tokenize

    from pylearn_lab import hash_value
    from pylearn_lab.hashing.spread import segment_digests

    n = cfg.pick(1_000_000, 50_000)
    df = mixed_frame(n)
    reps = cfg.repeats
    ours = median_time(lambda: hash_value(df), reps)
    jl = median_time(lambda: joblib.hash(df), max(3, reps // 2))
    dk = median_time(lambda: tokenize(df), reps)
    words = [w for b in _frame_buffers(df) for w in _as_words(b)]
    read = median_time(lambda: [np.add.reduce(w) for w in words], reps)
    one = median_time(lambda: _one_thread(hash_value, df), reps)
    size = sum(b.nbytes for b in _frame_buffers(df))
    bufs = _frame_buffers(df)
    floor = median_time(lambda: segment_digests(bufs), reps)  # the hash alone, every core
    dk_warm, ours_warm = _back_to_back(lambda: tokenize(df), lambda: hash_value(df), reps)
    return [
        Row("P10", f"hash a {n:,}-row mixed DataFrame", "joblib.hash", jl, ours, "s", target=10.0,
            note=(f"dtypes: {', '.join(map(str, df.dtypes))}; {size / 1e6:.0f} MB of column "
                  f"buffers: hash_value {size / ours / 1e9:.1f} GB/s, dask (xxh64 or another non-cryptographic hash, one core) "
                  f"{size / dk / 1e9:.1f} GB/s, a read-only pass {size / read / 1e9:.1f} GB/s")),
        Row("P10", f"hash a {n:,}-row mixed DataFrame", "dask.base.tokenize", dk, ours, "s",
            target=2.0),
        Row("P10", "  a read-only pass over its column buffers  [info]", "dask.base.tokenize", dk,
            read, "s"),
        Row("P10", "  same hash, blake3 on one thread  [info]", "dask.base.tokenize", dk, one, "s"),
        Row("P10", "  BLAKE3 segments of its buffers alone, every core  [info]", "dask.base.tokenize",
            dk, floor, "s"),
        Row("P10", "  both called back to back, no gc.collect() between  [info]",
            "dask.base.tokenize", dk_warm, ours_warm, "s"),
    ]


def _frame_buffers(df: object) -> list[np.ndarray]:
    """The column buffers a key of ``mixed_frame`` must read (values, offsets, string bytes, codes)."""
    import pandas as pd

    out = []
    for i in range(df.shape[1]):  # type: ignore[attr-defined]
        arr = df.iloc[:, i].array  # type: ignore[attr-defined]
        if hasattr(arr, "_pa_array"):
            out += [np.frombuffer(b, np.uint8) for b in arr._pa_array.chunk(0).buffers() if b]
        elif isinstance(arr, pd.Categorical):
            out.append(arr.codes.view(np.uint8))
        elif hasattr(arr, "asi8"):
            out.append(arr.asi8.view(np.uint8))
        else:
            out.append(np.asarray(arr).view(np.uint8))
    return out


def _back_to_back(anchor: Callable[[], object], ours: Callable[[], object],
                  reps: int) -> tuple[float, float]:
    """Median times of ``anchor`` and ``ours`` called alternately in a tight loop.

    ``median_time`` runs ``gc.collect()`` before every call, after which the
    first touch of Python objects is slow here (dask's tokenize walks many,
    ours few); this row shows both without it.
    """
    a, o = [], []
    anchor(), ours()
    for _ in range(max(7, 3 * reps)):
        t0 = time.perf_counter()
        anchor()
        t1 = time.perf_counter()
        ours()
        t2 = time.perf_counter()
        a.append(t1 - t0)
        o.append(t2 - t1)
    return statistics.median(a), statistics.median(o)


def _as_words(buf: np.ndarray) -> list[np.ndarray]:
    # read 8 bytes at a time (a uint8 reduce is compute-bound, not a bandwidth floor)
    cut = buf.nbytes // 8 * 8
    return [buf[:cut].view(np.uint64), buf[cut:]]


def _one_thread(fn: object, arg: object) -> object:
    from pylearn_lab.hashing import digest

    saved, digest._THREADS = digest._THREADS, 1
    try:
        return fn(arg)  # type: ignore[operator]
    finally:
        digest._THREADS = saved


BENCHMARKS = {"P1": bench_p1, "P10": bench_p10}
