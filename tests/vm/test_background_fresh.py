"""A background run (``wait=False``) re-checks in-process keys after the compute.

The caller's code goes on while the run lasts. An in-process node reads the
caller's literal array through a read-only view of the same memory, so a cell
that changes the array in place while the node runs changes what the node
computes. Stored under the key of the *original* array, that value would be a
wrong hit in every later session. The node must fail with ``StaleKeyError``,
nothing be stored, and a rebuilt expression compute from the new values.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.errors import NodeError, StaleKeyError

# the node's log and gates: out of its key (they do not change what it computes)
CALLS: list[float] = pl.untracked([])
GATES: dict[str, threading.Event] = pl.untracked({})


def _wait(name: str) -> None:
    # reached through a module global by name: the gate is not an argument of the key
    if f"{name}-read" in GATES:
        GATES[f"{name}-read"].set()  # the first half is read: the test may change x now
    GATES[name].wait(10)


@pl.component
def slow_total(x: np.ndarray, gate: str) -> float:
    """Reads half of ``x``, waits for the test, reads the rest."""
    first = float(x[: len(x) // 2].sum())
    _wait(gate)
    value = first + float(x[len(x) // 2:].sum())
    CALLS.append(value)
    return value


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    GATES.clear()


@pytest.mark.parametrize("backend", ["threads", "serial"])
def test_an_input_changed_while_a_background_node_runs_is_never_stored(tmp_path,
                                                                       backend) -> None:
    cache = pl.Cache(str(tmp_path / "c"))
    a = np.ones(1000)
    gate = f"g-{backend}"
    GATES[gate], GATES[f"{gate}-read"] = threading.Event(), threading.Event()
    expr = slow_total(a, gate)
    handle = pl.run(expr, backend=backend, cache=cache, wait=False, progress=False)
    # "running" is set at the submit, before the node has read anything (CI saw 2000.0)
    assert GATES[f"{gate}-read"].wait(10)
    assert handle.progress["running"] == 1
    a[:] = 2.0  # the caller's next cell, while the node runs
    GATES[gate].set()
    with pytest.raises(StaleKeyError, match="changed while it ran in a background run") as info:
        handle.result(timeout=30)
    assert isinstance(info.value, NodeError)
    assert CALLS == [1500.0]  # computed from half old, half new values
    assert not cache.contains(expr)  # ... and never stored under the old key
    GATES[gate] = threading.Event()
    GATES[gate].set()
    rebuilt = slow_total(a, gate)
    assert pl.run(rebuilt, backend=backend, cache=cache, progress=False) == 2000.0
    assert pl.run(rebuilt, backend=backend, cache=cache, progress=False) == 2000.0
    assert CALLS == [1500.0, 2000.0]  # the second run was a hit


def test_an_untouched_background_run_stores_as_usual(tmp_path) -> None:
    cache = pl.Cache(str(tmp_path / "c"))
    GATES["g"] = threading.Event()
    GATES["g"].set()
    exprs = [slow_total(np.full(10, float(i)), "g") for i in range(5)]
    handle = pl.run(exprs, backend="threads", cache=cache, wait=False, progress=False)
    assert handle.result(timeout=30) == [10.0 * i for i in range(5)]
    assert all(cache.contains(e) for e in exprs)
    assert pl.run(exprs, backend="threads", cache=cache, progress=False) == [
        10.0 * i for i in range(5)]
    assert len(CALLS) == 5


def test_a_waited_for_run_pays_no_second_check(tmp_path, monkeypatch) -> None:
    """The caller waits, so its code cannot change an input meanwhile: no re-check (P9's
    rate is per-node work)."""
    from pylearn_lab.vm import submit

    calls = []
    real = submit.check_fresh
    monkeypatch.setattr(submit, "check_fresh", lambda e: calls.append(e) or real(e))
    GATES["w"] = threading.Event()
    GATES["w"].set()
    cache = pl.Cache(str(tmp_path / "c"))
    pl.run(slow_total(np.ones(4), "w"), backend="threads", cache=cache, progress=False)
    assert len(calls) == 1  # once, before the node ran
    calls.clear()
    pl.run(slow_total(np.ones(5), "w"), backend="threads", cache=cache, wait=False,
           progress=False).result(timeout=30)
    assert len(calls) == 2  # before and after
    assert os.path.isdir(tmp_path / "c")
