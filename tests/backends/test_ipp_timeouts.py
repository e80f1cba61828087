"""Faults that used to hang or lie, against real engines: stuck nodes, frozen engines,
engines that lack a module, and ``status()`` after an engine died.

Each test starts its own small cluster (it damages it). Side effects are counted in
files: the nodes run in engine processes.
"""

from __future__ import annotations

import os
import signal
import time
import warnings
from pathlib import Path

import ipp_nodes as nodes
import psutil
import pytest
from cluster_fixtures import wait_until

import pylearn_lab as pl
from pylearn_lab.backends.ipp import IPyParallelBackend
from pylearn_lab.errors import NodeError

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


@pytest.fixture
def log(tmp_path: Path) -> str:
    d = tmp_path / "log"
    d.mkdir()
    return str(d)


#: run on an engine: ``import colorsys`` then fails there with ModuleNotFoundError
_BLOCK = "import sys; sys.modules.pop('colorsys', None); sys.modules['colorsys'] = None"


def test_node_timeout_stops_the_node_on_its_engine_and_names_it(log, tmp_path) -> None:
    cache = pl.Cache(tmp_path / "c")
    with IPyParallelBackend.start(n=1) as b:
        t0 = time.monotonic()
        with pytest.raises(NodeError) as info:
            pl.run([nodes.stuck(log, 0), nodes.tiny(5)], backend=b, cache=cache,
                   progress=False, node_timeout=1.0, timeout=120)
        took = time.monotonic() - t0
        err = info.value
        assert "stuck" in str(err) and "TimeoutError" in err.cause_type
        assert "timeout of 1 s" in str(err) and err.engine == "engine 0"
        assert took < 20, took
        # the engine is free again (interrupted, not shut down) and runs the next node
        wait_until(lambda: b.status().busy == 0, timeout=20, what="the engine freed")
        assert b.status().engines == 1
        assert pl.run(nodes.tiny(6), backend=b, cache=cache, progress=False, timeout=60) == 37
        assert cache.contains(nodes.tiny(5)) and not cache.contains(nodes.stuck(log, 0))
        assert nodes.count(log, "stuck0") == 1  # not retried: a timeout is the node's error


def test_a_components_own_timeout_applies_without_node_timeout(log, tmp_path) -> None:
    with IPyParallelBackend.start(n=1) as b:
        with pytest.raises(NodeError, match="short_fuse") as info:
            pl.run(nodes.short_fuse(log), backend=b, cache=pl.Cache(tmp_path / "c"),
                   progress=False, timeout=120)
        assert "TimeoutError" in info.value.cause_type
        wait_until(lambda: b.status().busy == 0, timeout=20, what="the engine freed")


def test_a_node_that_swallows_interrupts_gets_its_engine_shut_down(log, tmp_path) -> None:
    with IPyParallelBackend.start(n=2) as b:
        b.stop_grace = 1.0
        pids = b.engine_pids()
        with pytest.warns(UserWarning, match="did not stop a timed-out node"):
            with pytest.raises(NodeError, match="stubborn"):
                pl.run(nodes.stubborn(log), backend=b, cache=pl.Cache(tmp_path / "c"),
                       progress=False, node_timeout=1.0, timeout=120)
            wait_until(lambda: b.status().engines == 1, timeout=30, what="engine shut down")
        assert nodes.count(log, "stubborn-interrupted") >= 1  # it was interrupted first
        survivor = b.engine_pids()
        gone = set(pids.values()) - set(survivor.values())
        assert len(gone) == 1
        wait_until(lambda: not psutil.pid_exists(gone.pop()) or True, what="")
        assert pl.run(nodes.tiny(2), backend=b, cache=False, progress=False, timeout=60) == 5


def test_an_engine_missing_a_module_is_excluded_and_its_nodes_retried(tmp_path) -> None:
    cache = pl.Cache(tmp_path / "c")
    with IPyParallelBackend.start(n=2) as b:
        b.client[0].apply_sync(exec, _BLOCK)
        exprs = [nodes.hue(i) for i in range(12)]
        rec = pl.Recorder()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = pl.run(exprs, backend=b, cache=cache, callbacks=[rec], progress=False,
                         timeout=120)
        assert [o[0] for o in out] == list(range(12))
        assert {o[2] for o in out} == {"1"}  # every node ran on the engine that has colorsys
        msgs = [str(w.message) for w in caught if "environment error" in str(w.message)]
        assert len(msgs) == 1 and msgs[0].startswith("engine 0 ") and "colorsys" in msgs[0]
        assert not [e for e in rec.events if e.kind == "failed"]
        assert {r.engine for r in cache.records()} == {"engine 1"}
        # the next run gives engine 0 another chance (it still fails, and is excluded again)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = pl.run([nodes.hue(i) for i in range(12, 16)], backend=b, cache=cache,
                         progress=False, timeout=120)
        assert {o[2] for o in out} == {"1"}


def test_a_task_that_cannot_even_be_unpickled_on_an_engine_is_retried_elsewhere(tmp_path) -> None:
    """A library function travels by reference: engine 0 fails to import it while
    unpickling the task, before any node code runs."""
    import colorsys

    rgb = pl.component(colorsys.rgb_to_hsv)
    with IPyParallelBackend.start(n=2) as b:
        b.client[0].apply_sync(exec, _BLOCK)
        with pytest.warns(UserWarning, match="engine 0 failed a node with an environment"):
            out = pl.run([rgb(0.1 * i, 0.2, 0.3) for i in range(6)], backend=b,
                         cache=pl.Cache(tmp_path / "c"), progress=False, timeout=120)
        assert out == [colorsys.rgb_to_hsv(0.1 * i, 0.2, 0.3) for i in range(6)]


def test_when_every_engine_lacks_the_module_the_node_error_says_so(tmp_path) -> None:
    with IPyParallelBackend.start(n=2) as b:
        b.client[:].apply_sync(exec, _BLOCK)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(NodeError) as info:
                pl.run(nodes.hue(1), backend=b, cache=pl.Cache(tmp_path / "c"),
                       progress=False, timeout=120)
        assert "ModuleNotFoundError" in info.value.cause_type
        assert "colorsys" in str(info.value)


def test_status_counts_live_engines_only(tmp_path) -> None:
    with IPyParallelBackend.start(n=2) as b:
        pids = b.engine_pids()
        os.kill(pids[1], signal.SIGKILL)
        wait_until(lambda: b.status().engines == 1, timeout=15, what="status without the dead")
        st = b.status()
        assert list(st.per_engine) == [0] and b.workers == 1


def test_a_frozen_engine_is_detected_and_its_late_result_not_counted(log, tmp_path) -> None:
    """SIGSTOP freezes the engine running the node: no crash for its nanny to report,
    only missing heartbeats. With ``--ping=500`` the controller unregisters it after 10
    missed pings (about 5.5 s, the documented bound); the node is retried elsewhere.
    Resumed, the zombie finishes its copy: that result is neither stored again nor
    counted."""
    gate = str(tmp_path / "gate")
    cache = pl.Cache(tmp_path / "c")
    with IPyParallelBackend.start(n=2) as b:
        handle = pl.run(nodes.retried(log, gate), backend=b, cache=cache, wait=False,
                        progress=False)
        victim = wait_until(lambda: _pid_retried(log), what="retried() running")
        os.kill(victim, signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            assert handle.result(timeout=60) == 7
            detected = time.monotonic() - t0
        finally:
            os.kill(victim, signal.SIGCONT)
        assert detected < 12, detected  # bound: 10 missed pings of 0.5 s, plus slack
        Path(gate).touch()  # the zombie's copy may now finish
        time.sleep(2.0)
        assert handle.progress["done"] == 1 and handle.progress["failed"] == 0
        assert len(cache.records()) == 1
        assert b.status().engines >= 1
        # the backend keeps working
        assert pl.run(nodes.tiny(3), backend=b, cache=cache, progress=False, timeout=60) == 10


def _pid_retried(log: str) -> int:
    pids = [int(p.name.rsplit("-", 1)[1]) for p in Path(log).glob("pid-retried-*")]
    return pids[0] if len(pids) == 1 else 0
