"""Red team (session 5): the VM's window (``Capabilities.max_pending``) and the frozen
pre-run heap (``vm/heap.py``), attacked with real thread pools, real Cache dirs and
counting nodes.

The backend is a real thread pool whose tasks make a cloudpickle round trip (as a
cluster's would) and which reports a small window, so most claimed nodes sit in the
VM's backlog for many turns of the loop.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import vm_counting as vc

import pylearn_lab as pl
from pylearn_lab.backends.capabilities import Capabilities
from pylearn_lab.errors import NodeError, PylearnError

pytestmark = pytest.mark.timeout(60)


@pl.component
def slow(log: str, i: int, pause: float = 0.01) -> int:
    vc._mark(log, f"slow{i}")
    time.sleep(pause)
    return i * 3


@pl.component
def fails_at(log: str, i: int, bad: int) -> int:
    vc._mark(log, f"fails{i}")
    time.sleep(0.005)
    if i == bad:
        raise ValueError(f"node {i} fails on purpose")
    return i


@pl.component
def add(log: str, a: int, b: int) -> int:
    vc._mark(log, "add")
    time.sleep(0.003)
    return a + b


@pl.component
def freezes(log: str) -> int:
    vc._mark(log, "freezes")
    gc.freeze()  # user code freezing the heap (e.g. before a fork) during a run
    return gc.get_freeze_count()


def _counts(log: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in Path(log).iterdir():
        name = p.name.split("-")[0]
        out[name] = out.get(name, 0) + 1
    return out


def test_two_windowed_runs_sharing_a_cache_compute_each_key_once(windowed, log, cache) -> None:
    """Runs A (0..59) and B (30..89) at once, each with a window of 2: every key once,
    neither waits out the 60 s claim TTL for keys the other holds in its backlog."""
    results: dict[str, Any] = {}

    def go(name: str, rng: range) -> None:
        b = windowed(2)
        try:
            results[name] = pl.run([slow(log, i) for i in rng], backend=b, cache=cache,
                                   progress=False, timeout=25)
        except BaseException as exc:  # reported below
            results[name] = exc

    t0 = time.monotonic()
    ts = [threading.Thread(target=go, args=("a", range(0, 60))),
          threading.Thread(target=go, args=("b", range(30, 90)))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(40)
    assert results["a"] == [3 * i for i in range(0, 60)], results["a"]
    assert results["b"] == [3 * i for i in range(30, 90)], results["b"]
    counts = _counts(log)
    assert all(counts.get(f"slow{i}") == 1 for i in range(90)), counts
    assert time.monotonic() - t0 < 25  # nobody waited for a claim to lapse


def test_two_processes_sharing_a_cache_with_windows(log, cache, tmp_path) -> None:
    """The same with two processes (claims across processes, not a shared lock)."""
    import subprocess
    import sys

    script = tmp_path / "one.py"
    script.write_text(f"""
import sys, time
sys.path.insert(0, {str(Path(__file__).parent)!r})
import pylearn_lab as pl
from test_redteam_s5 import slow
from vm_windowed import Windowed
lo, hi = int(sys.argv[1]), int(sys.argv[2])
b = Windowed(2)
out = pl.run([slow({log!r}, i) for i in range(lo, hi)], backend=b,
             cache=pl.Cache({str(tmp_path / "cache")!r}),
             progress=False, timeout=25)
b.close()
assert out == [3 * i for i in range(lo, hi)], out
print("ok")
""")
    env = dict(os.environ)
    t0 = time.monotonic()
    ps = [subprocess.Popen([sys.executable, str(script), lo, hi], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for lo, hi in (("0", "40"), ("20", "60"))]
    outs = [p.communicate(timeout=45) for p in ps]
    assert all(p.returncode == 0 for p in ps), outs
    counts = _counts(log)
    assert all(counts.get(f"slow{i}") == 1 for i in range(60)), counts
    assert time.monotonic() - t0 < 40


def test_a_timeout_while_nodes_sit_in_the_backlog_releases_them(windowed, log, cache) -> None:
    b = windowed(1)
    # >= 5 s at a window of 1; stopped after 1 s (a loaded machine still starts some)
    exprs = [slow(log, 200 + i, 0.05) for i in range(100)]
    with pytest.raises(PylearnError):
        pl.run(exprs, backend=b, cache=cache, progress=False, timeout=1.0)
    done = sum(v for k, v in _counts(log).items())
    assert 0 < done < 100
    t0 = time.monotonic()
    b2 = windowed(8)
    assert pl.run(exprs, backend=b2, cache=cache, progress=False, timeout=20) == [
        3 * (200 + i) for i in range(100)]
    assert time.monotonic() - t0 < 15  # no claim of the backlog left to lapse
    counts = _counts(log)
    assert all(counts.get(f"slow{200 + i}") == 1 for i in range(100)), counts


def test_cancel_mid_backlog_then_the_same_run_again(windowed, log, cache) -> None:
    b = windowed(2)
    exprs = [slow(log, 400 + i, 0.01) for i in range(80)]
    h = pl.run(exprs, backend=b, cache=cache, progress=False, wait=False)
    time.sleep(0.1)
    for _ in range(5):  # cancel, then run again, with nodes running, several times
        h.cancel()
        with pytest.raises(pl.errors.RunCancelledError):
            h.result()
        h = pl.run(exprs, backend=windowed(2), cache=cache, progress=False, wait=False)
        time.sleep(0.05)
    h.cancel()
    with pytest.raises(pl.errors.RunCancelledError):
        h.result()
    time.sleep(0.1)  # the nodes running at the cancel finish and release late
    assert pl.run(exprs, backend=windowed(2), cache=cache, progress=False, timeout=20) == [
        3 * (400 + i) for i in range(80)]
    counts = _counts(log)
    # a node running at the cancel on a backend whose client stores the values must
    # still be stored when it ends (nobody else collects it): the re-run serves it
    twice = {k: v for k, v in counts.items() if v != 1}
    assert not twice and len(counts) == 80, twice


def test_a_failure_while_others_wait_in_the_backlog(windowed, log, cache) -> None:
    """Node 3 fails; the 36 behind it in the backlog still run, the error names it and
    the partial results hold everything else."""
    b = windowed(2)
    exprs = [fails_at(log, i, 3) for i in range(40)]
    with pytest.raises(NodeError, match="node 3 fails") as info:
        pl.run(exprs, backend=b, cache=cache, progress=False, timeout=20)
    partial = info.value.partial
    assert set(partial) == {e.key for i, e in enumerate(exprs) if i != 3}
    assert all(partial[e.key] == i for i, e in enumerate(exprs) if i != 3)
    counts = _counts(log)
    assert all(counts.get(f"fails{i}") == 1 for i in range(40)), counts
    # the good ones are hits now, the bad one runs again (a failure is not cached)
    with pytest.raises(NodeError):
        pl.run(exprs, backend=windowed(2), cache=cache, progress=False, timeout=20)
    counts = _counts(log)
    assert counts["fails3"] == 2 and all(counts.get(f"fails{i}") == 1 for i in range(40)
                                         if i != 3)


def test_a_lost_worker_is_retried_while_the_backlog_is_full(windowed, log, cache) -> None:
    b = windowed(2, lose={2, 5})
    exprs = [slow(log, 600 + i, 0.005) for i in range(30)]
    assert pl.run(exprs, backend=b, cache=cache, progress=False, retries=1, timeout=20) == [
        3 * (600 + i) for i in range(30)]
    counts = _counts(log)
    assert all(counts.get(f"slow{600 + i}") == 1 for i in range(30)), counts
    assert b.sent == 32 and b.most <= 2


def test_a_lost_worker_without_retries_fails_only_its_node(windowed, log, cache) -> None:
    b = windowed(2, lose={3})
    exprs = [slow(log, 700 + i, 0.005) for i in range(20)]
    with pytest.raises(NodeError, match="worker was lost") as info:
        pl.run(exprs, backend=b, cache=cache, progress=False, retries=0, timeout=20)
    assert len(info.value.partial) == 19
    # and no claim stays behind: the same run now finishes at once, computing one node
    t0 = time.monotonic()
    assert pl.run(exprs, backend=windowed(2), cache=cache, progress=False, timeout=20) == [
        3 * (700 + i) for i in range(20)]
    assert time.monotonic() - t0 < 10
    assert sum(v for k, v in _counts(log).items()) == 20


def test_a_diamond_whose_downstream_becomes_ready_while_the_backlog_is_full(windowed, log,
                                                                              cache) -> None:
    """Layers of adds: each layer's nodes become ready while the previous layer still
    waits in the backlog; the result is right and every add runs once."""
    b = windowed(2)
    layer = [slow(log, 800 + i, 0.002) for i in range(16)]
    adds = 0
    while len(layer) > 1:
        layer = [add(log, layer[i], layer[(i + 1) % len(layer)]) for i in range(len(layer))][
            : len(layer) - 1]
        adds += len(layer)
    got = pl.run(layer[0], backend=b, cache=cache, progress=False, timeout=25)
    fresh = pl.run(layer[0], backend="serial", cache=False, progress=False)
    assert got == fresh
    assert _counts(log)["add"] == adds + adds  # once in the windowed run, once uncached
    assert b.most <= 2


def test_node_timeout_with_a_backlog(windowed, log, cache) -> None:
    """node_timeout counts from a node's sending, not from its claim: nodes that waited
    longer than the limit in the backlog still run (on a backend that can stop them)."""
    from pylearn_lab.backends.local import ThreadBackend

    class WindowedThreads(ThreadBackend):
        def capabilities(self) -> Capabilities:
            import dataclasses

            return dataclasses.replace(super().capabilities(), max_pending=1)

    b = WindowedThreads(2)
    try:
        exprs = [slow(log, 900 + i, 0.05) for i in range(12)]  # 0.6 s through a window of 1
        assert pl.run(exprs, backend=b, cache=cache, progress=False, node_timeout=0.5,
                      timeout=20) == [3 * (900 + i) for i in range(12)]
    finally:
        b.close()


def test_a_user_gc_freeze_during_a_run_is_left_in_force(log) -> None:
    """The doc: a process that froze its heap itself is left exactly as it is. A user's
    gc.freeze() during a waited-for run must not be undone when the run ends."""
    assert gc.get_freeze_count() == 0
    try:
        inside = pl.run(freezes(log), backend="threads", cache=False, progress=False)
        assert inside > 0
        assert gc.get_freeze_count() > 0, "the run unfroze the user's own gc.freeze()"
    finally:
        gc.unfreeze()


def test_keyboard_interrupt_inside_a_run_unfreezes(log) -> None:
    @pl.component
    def interrupt(log: str) -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pl.run(interrupt(log), backend="serial", cache=False, progress=False)
    assert gc.get_freeze_count() == 0


def test_nested_runs_on_threads_unfreeze_once_the_outer_ends(log) -> None:
    seen: list[int] = []

    @pl.component
    def inner(log: str, i: int) -> int:
        seen.append(gc.get_freeze_count())
        return pl.run(slow(log, 1000 + i, 0.001), backend="serial", cache=False,
                      progress=False)

    out = pl.run([inner(log, i) for i in range(6)], backend="threads", cache=False,
                 progress=False)
    assert out == [3 * (1000 + i) for i in range(6)]
    assert all(c > 0 for c in seen)  # frozen during the outer run
    assert gc.get_freeze_count() == 0


def test_gc_disabled_mid_run_still_unfreezes(log) -> None:
    @pl.component
    def disable(log: str) -> int:
        gc.disable()
        return 1

    try:
        assert pl.run(disable(log), backend="serial", cache=False, progress=False) == 1
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable()
