"""Workloads for the reliability tests: values checkable from their key, writers, hammers.

Every value written here is a pure function of its key index, so a reader can
tell a right value from a wrong or partial one without remembering anything.
Writers log each operation to an append-only file (one ``os.write`` per line,
so a SIGKILL never leaves half a line): ``S i`` before a save, ``s i`` after it
returned, ``D i`` / ``d i`` around a delete. From that log a checker knows
which entries *must* exist (their save finished), which must not (their delete
finished), and which are uncertain (the operation the kill interrupted).
"""

from __future__ import annotations

import hashlib
import os
import random
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

import pylearn_lab as pl
from pylearn_lab.cache.disk import INLINE_MAX

N_KEYS = 160


def key_for(i: int) -> str:
    """The cache key of workload value ``i`` (32 hex characters, spread over blob folders)."""
    return hashlib.blake2b(f"reliability-{i}".encode(), digest_size=16).hexdigest()


KEY_INDEX = {key_for(i): i for i in range(N_KEYS)}


def value_for(i: int) -> Any:
    """A value derivable from ``i``: raw arrays (blob or inline), pickles (with arrays), plain data."""
    kind = i % 4
    if kind == 0:  # a raw array big enough for a blob file (64 KiB .. ~330 KiB)
        return np.arange(INLINE_MAX // 8 + 1 + 2500 * (i % 17), dtype=np.float64) * i
    if kind == 1:  # a small raw array, inline in the index row
        return np.full(10 + i, i, dtype=np.int32)
    if kind == 2:  # a pickle with an out-of-band array: sometimes a blob, sometimes inline
        n = 2000 + 9000 * (i % 3)
        return {"i": i, "w": np.linspace(0.0, i, n), "tag": f"v{i}"}
    return [i, str(i) * (i % 7), (i, float(i) / 3)]


def same_value(i: int, value: Any) -> bool:
    """True when ``value`` is exactly :func:`value_for` ``(i)``."""
    want = value_for(i)
    if isinstance(want, np.ndarray):
        return (isinstance(value, np.ndarray) and value.dtype == want.dtype
                and value.shape == want.shape and bool(np.array_equal(value, want)))
    if isinstance(want, dict):
        return (isinstance(value, dict) and value.keys() == want.keys()
                and value["i"] == want["i"] and value["tag"] == want["tag"]
                and bool(np.array_equal(value["w"], want["w"])))
    return value == want


# -- crash writer -----------------------------------------------------------------------
def _log(fd: int, line: str) -> None:
    os.write(fd, (line + "\n").encode())


def crash_writer(cache_dir: str, log_path: str, seed: int) -> None:
    """Save and delete workload values forever (until killed), logging each operation."""
    rng = random.Random(seed)
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    cache = pl.Cache(cache_dir)
    while True:
        i = rng.randrange(N_KEYS)
        if rng.random() < 0.88:
            _log(fd, f"S {i}")
            cache.save(key_for(i), value_for(i), {"func": "reliability.value_for"})
            _log(fd, f"s {i}")
        else:
            _log(fd, f"D {i}")
            cache.invalidate(key_for(i))
            _log(fd, f"d {i}")


def expected_state(log_path: str | Path) -> tuple[set[int], set[int]]:
    """``(must exist, must not exist)`` from a writer log (see the module docstring)."""
    state: dict[int, str] = {}
    try:
        lines = Path(log_path).read_text().splitlines()
    except FileNotFoundError:
        return set(), set()
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            continue  # never expected: one write per line; tolerated anyway
        op, i = parts[0], int(parts[1])
        # intent: uncertain until finished; finished: certain
        state[i] = {"S": "?", "D": "?", "s": "in", "d": "out"}.get(op, "?")
    return ({i for i, s in state.items() if s == "in"}, {i for i, s in state.items() if s == "out"})


# -- components for runs ------------------------------------------------------------------
def mark(log_dir: str, name: str) -> None:
    """Record one computation as a file (atomic, visible across processes)."""
    Path(log_dir, f"{name}-{os.getpid()}-{os.urandom(4).hex()}").touch()


@pl.component
def base(log_dir: str, i: int):
    """A root node: ``arange(8) + i``."""
    mark(log_dir, f"base{i}")
    time.sleep(0.005)  # long enough for other processes to want it at the same time
    return np.arange(8.0) + i


@pl.component
def square(log_dir: str, x):
    """A dependent node: ``x ** 2`` (the key is derived from ``base``'s)."""
    time.sleep(0.005)
    mark(log_dir, f"square{int(x[0])}")
    return x * x


def expected_square(i: int) -> np.ndarray:
    return (np.arange(8.0) + i) ** 2


def hammer(cache_dir: str, log_dir: str, seconds: float, seed: int, n_roots: int = 24) -> None:
    """Run random overlapping graphs against one cache until ``seconds`` pass.

    Writes ``errors-<pid>`` (tracebacks) on any exception or wrong value, and
    ``runs-<pid>`` with the number of runs done.
    """
    rng = random.Random(seed)
    end = time.monotonic() + seconds
    runs = 0
    try:
        while time.monotonic() < end:
            ids = rng.sample(range(n_roots), 5)
            outs = pl.run([square(log_dir, base(log_dir, i)) for i in ids], cache=cache_dir,
                          progress=False)
            for i, out in zip(ids, outs):
                if not np.array_equal(out, expected_square(i)):
                    raise AssertionError(f"wrong value for square(base({i})): {out!r}")
            runs += 1
    except BaseException:
        Path(log_dir).parent.joinpath(f"errors-{os.getpid()}").write_text(traceback.format_exc())
        raise
    finally:
        Path(log_dir).parent.joinpath(f"runs-{os.getpid()}").write_text(str(runs))


def run_graph(cache_dir: str, log_dir: str, n: int) -> None:
    """Compute ``square(base(i))`` for ``i < n``, then wait to be killed (the
    crash-during-run test kills it at a random point, usually mid-run)."""
    pl.run([square(log_dir, base(log_dir, i)) for i in range(n)], cache=cache_dir,
           backend="serial", progress=False)
    time.sleep(600)



@pl.component
def big(log_dir: str, i: int, n: int):
    """``n`` float64 values equal to ``i`` (n > 8192: a blob file; smaller: inline)."""
    mark(log_dir, f"big{i}")
    return np.full(n, float(i))
