"""Faults on real clusters: engines killed mid-task, no engines, a controller that dies.

Each test starts its own small cluster with ``IPyParallelBackend.start`` (so this
also covers ``start``/``stop``), because it destroys part of it. Processes are
killed by their PID with SIGKILL, as a crash would. Side effects are counted in
files: the node functions run in engine processes.
"""

from __future__ import annotations

import inspect
import os
import signal
from pathlib import Path

import ipp_nodes as nodes
import psutil
import pytest
from cluster_fixtures import wait_until

import pylearn_lab as pl
from pylearn_lab.backends.ipp import IPyParallelBackend
from pylearn_lab.backends.registry import current_cluster
from pylearn_lab.errors import ClusterGoneError, NodeError, NoEnginesError

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


@pytest.fixture
def log(tmp_path: Path) -> str:
    d = tmp_path / "log"
    d.mkdir()
    return str(d)


def _pid_of_retried(log: str) -> int:
    """The engine process running ``retried``'s latest attempt (it writes its pid)."""
    pids = [int(p.name.rsplit("-", 1)[1]) for p in Path(log).glob("pid-retried-*")]
    return pids[-1] if len(pids) == 1 else 0


def test_engine_killed_mid_task_is_retried_elsewhere_without_recomputing(log, tmp_path) -> None:
    gate = str(tmp_path / "gate")  # never created: the first attempt blocks until killed
    cache = pl.Cache(tmp_path / "c")
    with IPyParallelBackend.start(n=2) as b:
        assert current_cluster() is b
        inner = nodes.plus(log, 1, 2)
        top = nodes.plus(log, nodes.retried(log, gate), inner)
        handle = pl.run(top, backend=b, cache=cache, wait=False, progress=False)
        victim = wait_until(lambda: _pid_of_retried(log), what="retried() running")
        wait_until(lambda: cache.contains(inner), what="the independent node stored")
        os.kill(victim, signal.SIGKILL)
        assert handle.result(timeout=60) == 10
        assert nodes.count(log, "retried-start") == 2  # killed once, retried once
        assert nodes.count(log, "retried-done") == 1
        assert nodes.count(log, "plus") == 2  # inner and top, each once: nothing recomputed
        assert handle.progress["running"] == 0 and handle.progress["done"] == 3
        survivor = b.engine_pids()
        assert victim not in survivor.values() and len(survivor) == 1

        # retries=0: losing the worker is reported as the node's error, naming the cause
        for p in Path(log).glob("pid-retried-*"):
            p.unlink()
        for p in Path(log).glob("retried-*"):
            p.unlink()
        handle = pl.run(nodes.retried(log, gate + "-2"), backend=b, cache=cache, wait=False,
                        progress=False, retries=0)
        os.kill(wait_until(lambda: _pid_of_retried(log), what="retried() again"), signal.SIGKILL)
        with pytest.raises(NodeError, match="lost"):
            handle.result(timeout=60)
    assert current_cluster() is None


def test_zero_engines_give_no_engines_error_not_a_hang(tmp_path) -> None:
    with IPyParallelBackend.start(n=0, engine_timeout=1.0) as b:
        assert b.status().engines == 0
        with pytest.raises(NoEnginesError, match="no engines"):
            pl.run(nodes.tiny(2), backend=b, cache=pl.Cache(tmp_path / "c"), progress=False,
                   timeout=60)


def test_a_controller_that_dies_gives_cluster_gone_error(log, tmp_path) -> None:
    gate = str(tmp_path / "gate")
    cache = pl.Cache(tmp_path / "c")
    b = IPyParallelBackend.start(n=1, health_timeout=2.0)
    try:
        handle = pl.run(nodes.gated(log, 0, gate), backend=b, cache=cache, wait=False,
                        progress=False)
        wait_until(lambda: nodes.count(log, "start0"), what="the node running")
        # the controller and its scheduler processes crash together, as with a lost host
        controller = psutil.Process(b.cluster.controller.pid)
        for p in [*controller.children(recursive=True), controller]:
            p.kill()
        with pytest.raises(ClusterGoneError, match="did not answer"):
            handle.result(timeout=60)
        with pytest.raises(ClusterGoneError):
            b.status(timeout=1.0)
        with pytest.raises(ClusterGoneError):
            b.submit(abs, -1).result(timeout=5)
        # the run released its claim: a new run may compute the key at once
        assert cache.store.claim_owner(nodes.gated(log, 0, gate).key) is None
    finally:
        Path(gate).touch()  # let the orphaned engine's task end
        b.stop()


def test_a_backend_idle_past_the_health_timeout_still_runs(tmp_path) -> None:
    """Idle time is not silence: a backend left alone longer than ``health_timeout``
    (10 s by default) used to fail its first run -- and, the error being sticky, every
    later one -- with a false ClusterGoneError while ``status()`` saw a healthy cluster.
    The bug was "idle longer than health_timeout", whatever its value: 3 s here keeps
    the test at a third of the time the default would take (the default is pinned)."""
    import time

    assert inspect.signature(IPyParallelBackend.start).parameters[
        "health_timeout"].default == 10.0
    cache = pl.Cache(tmp_path / "c")
    with IPyParallelBackend.start(n=1, health_timeout=3.0) as b:
        assert b.health_timeout == 3.0
        time.sleep(4.0)  # idle, never submitted anything
        assert b.status().engines == 1
        # nodes of 0.5 s: the watchdog looks at the run while it is in flight
        assert pl.run(nodes.napping(1, 0.5), backend=b, cache=cache, progress=False,
                      timeout=60) == 1
        assert pl.run(nodes.napping(2, 0.5), backend=b, cache=cache, progress=False,
                      timeout=60) == 2
        time.sleep(4.0)  # idle again, after runs
        assert pl.run(nodes.napping(3, 0.5), backend=b, cache=cache, progress=False,
                      timeout=60) == 3
        assert b.cluster_error is None and b.status().engines == 1


def test_an_engine_killed_with_tasks_in_its_own_queue_loses_none_of_them(log, tmp_path) -> None:
    """Known-tiny tasks go straight to engines' queues (.route): one engine runs a node
    and holds more queued behind it when it is SIGKILLed. Every node still ends, on the
    other engine, and none is computed twice."""
    gate = tmp_path / "gate"
    gate.touch()  # open: the warm-up runs are tiny, so the function becomes known tiny
    cache = pl.Cache(tmp_path / "c")
    with IPyParallelBackend.start(n=2) as b:
        b.batch_cap = 1
        for base in (100, 200, 300):
            pl.run([nodes.gated(log, base + i, str(gate)) for i in range(2)], backend=b,
                   cache=cache, progress=False)
        gate.unlink()  # closed: the next nodes start and wait
        for p in Path(log).glob("pid*"):
            p.unlink()
        handle = pl.run([nodes.gated(log, i, str(gate)) for i in range(8)], backend=b,
                        cache=cache, wait=False, progress=False)
        running = wait_until(lambda: len(nodes.pids_of_gated(log)) == 2 and nodes.pids_of_gated(log),
                             what="one node running on each engine")
        assert b._jobs.router.outstanding[0] == 8  # all eight in the engines' own queues
        victim = next(iter(running.values()))
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(b.client.ids) == 1, what="the dead engine unregistered")
        gate.touch()
        assert handle.result(timeout=60) == list(range(8))
        for i in range(8):
            assert nodes.count(log, f"done{i}") == 1, i
        starts = sum(nodes.count(log, f"start{i}") for i in range(8))
        assert starts == 9  # the killed one started twice, each other node once
        assert b._jobs.router.outstanding == (0, 0)
