"""Node functions for the cluster tests; every call leaves a file behind.

Side effects are counted on disk (one file per call, named ``<what>-<key>-<pid>-<random>``),
never in memory: the calls happen in engine processes. This module lives beside the
tests and is *not* importable on the engines, so it also exercises by-value pickling.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

import pylearn_lab as pl


def mark(log: str, what: str) -> None:
    """Record one event of ``what`` (a helper the nodes reach through module globals)."""
    Path(log, f"{what}-{os.getpid()}-{os.urandom(4).hex()}").touch()


def count(log: str | Path, what: str) -> int:
    """How many times ``what`` was recorded."""
    return sum(1 for p in Path(log).iterdir() if p.name.startswith(what + "-"))


def wait_for_file(path: str, timeout: float = 60.0) -> None:
    """Block (on the engine) until ``path`` exists -- the test decides when a node may end."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.02)


class Tracked:
    """A value that notes, on disk, every time it is unpickled in the client process.

    Store mode must never bring an intermediate to the client; ship mode must.
    """

    def __init__(self, data: np.ndarray, client_pid: int, log: str) -> None:
        self.data, self.client_pid, self.log = data, client_pid, log

    def __getstate__(self) -> dict:
        return {"data": self.data, "client_pid": self.client_pid, "log": self.log}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if os.getpid() == self.client_pid:
            mark(self.log, "client-unpickled")


@pl.component
def make(log: str, n: int, client_pid: int) -> Tracked:
    mark(log, "make")
    return Tracked(np.arange(float(n)), client_pid, log)


@pl.component
def scale(log: str, t: Tracked, factor: float) -> Tracked:
    mark(log, "scale")
    return Tracked(t.data * factor, t.client_pid, t.log)


@pl.component
def sum_of(log: str, t: Tracked) -> float:
    mark(log, "sum")
    return float(t.data.sum())


@pl.component
def where() -> str:
    return os.environ.get("PYLEARN_ENGINE_ID", "client")


@pl.component
def tiny(x: int) -> int:
    return x * x + 1


@pl.component
def gated(log: str, i: int, gate: str) -> int:
    """Starts (marked), waits for ``gate`` to exist, ends (marked)."""
    mark(log, f"start{i}")
    Path(log, f"pid{i}-{os.getpid()}").touch()
    wait_for_file(gate)
    mark(log, f"done{i}")
    return i


def pids_of_gated(log: str) -> dict[int, int]:
    """node index -> an engine pid that started it (:func:`gated` writes ``pid<i>-<pid>``)."""
    return {i: max(pids) for i, pids in all_pids_of_gated(log).items()}


def all_pids_of_gated(log: str) -> dict[int, set[int]]:
    """node index -> every engine pid that started it (a node may start twice)."""
    out: dict[int, set[int]] = {}
    for p in Path(log).glob("pid*-*"):
        head, _, pid = p.name.partition("-")
        if head[3:].isdigit():
            out.setdefault(int(head[3:]), set()).add(int(pid))
    return out


@pl.component
def retried(log: str, gate: str) -> int:
    """First attempt blocks on ``gate`` (the test kills its engine); a retry returns at once."""
    first = count(log, "retried-start") == 0
    mark(log, "retried-start")
    Path(log, f"pid-retried-{os.getpid()}").touch()
    if first:
        wait_for_file(gate)
    mark(log, "retried-done")
    return 7


@pl.component
def plus(log: str, a: int, b: int) -> int:
    mark(log, "plus")
    return a + b


@pl.component
def boom(log: str, x: int) -> int:
    mark(log, "boom")
    raise ValueError(f"boom on purpose ({x})")


@pl.component
def slowish(i: int) -> int:
    """Slower than the tiny-node threshold (50 ms)."""
    time.sleep(0.05)
    return i


@pl.component
def napping(i: int, seconds: float) -> int:
    """Sleeps ``seconds`` on the engine, then returns ``i``."""
    time.sleep(seconds)
    return i


@pl.component
def stuck(log: str, i: int) -> int:
    """Marks its start, then sleeps far longer than any test waits."""
    mark(log, f"stuck{i}")
    Path(log, f"pid-stuck{i}-{os.getpid()}").touch()
    time.sleep(600)
    return i


@pl.component
def stubborn(log: str) -> int:
    """Swallows interrupts: only an engine shutdown stops it."""
    mark(log, "stubborn")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except KeyboardInterrupt:
            mark(log, "stubborn-interrupted")
    return 0


@pl.component(timeout=1.0)
def short_fuse(log: str) -> int:
    """A component whose own ``timeout=`` is 1 s, and which sleeps longer."""
    mark(log, "fuse")
    time.sleep(600)
    return 0


@pl.component
def hue(i: int) -> tuple:
    """Needs ``colorsys``; the tests make it unimportable on one engine."""
    import colorsys

    return (i, colorsys.rgb_to_hsv(0.2, 0.4, 0.4)[0], os.environ.get("PYLEARN_ENGINE_ID"))



@pl.component
def block(seed: int, mib: int) -> np.ndarray:
    """``mib`` MiB of float64 (an intermediate far larger than an index row)."""
    return np.random.default_rng(seed).random(mib * 2**17)


@pl.component
def total(*parts: np.ndarray) -> float:
    return float(sum(float(p.sum()) for p in parts))


@pl.component
def host_of() -> tuple:
    import socket

    return socket.gethostname(), os.getpid()


@pl.component
def counted_block(log: str, seed: int, kib: int) -> np.ndarray:
    """A value larger than an index row (a blob file), its calls counted."""
    mark(log, "block")
    return np.full(kib * 128, float(seed))


@pl.component
def counted_total(log: str, *parts: np.ndarray) -> float:
    mark(log, "total")
    return float(sum(p.sum() for p in parts))
