"""P1: hashing a 100 MiB array argument.

Anchors, measured in the same run on the same buffer:

* ``joblib.hash(a)`` -- what ``joblib.Memory`` pays per call for an array argument;
* a read-only pass, ``np.add.reduce`` over a ``uint64`` view -- the memory
  bandwidth floor: no hash can be faster than reading the bytes once.

Ours is :func:`pylearn_lab.hash_value`, the function every key goes through.
"""

from __future__ import annotations

import numpy as np
from _harness import Config, Row, median_time

__all__ = ["BENCHMARKS", "bench_p1"]


def bench_p1(cfg: Config) -> list[Row]:
    """P1 rows: vs ``joblib.hash`` (>= 20x) and vs a read-only pass (>= 0.5x)."""
    import joblib

    from pylearn_lab import hash_value

    size = cfg.big_bytes
    a = np.random.default_rng(0).random(size // 8)
    u = a.view(np.uint64)
    reps = cfg.repeats
    ours = median_time(lambda: hash_value(a), reps)
    read = median_time(lambda: np.add.reduce(u), reps)
    jl = median_time(lambda: joblib.hash(a), max(3, reps // 2))
    mib = size // 2**20
    gbs = lambda t: size / t / 1e9
    return [
        Row("P1", f"hash a {mib} MiB float64 array", "joblib.hash", jl, ours, "s", target=20.0,
            note=(f"hash_value {gbs(ours):.1f} GB/s, joblib.hash {gbs(jl):.2f} GB/s, "
                  f"read-only pass {gbs(read):.1f} GB/s")),
        Row("P1", f"hash a {mib} MiB array vs reading it", "np.add.reduce(u64 view)", read, ours,
            "s", target=0.5, target_text=">= 0.5x"),
    ]


BENCHMARKS = {"P1": bench_p1}
