"""One Backend contract, every engine: threads, processes, ipyparallel, dask, the queue.

The same assertions run against each backend: ``submit`` gives a
``concurrent.futures.Future``; a graph gives the serial backend's values and
keys, each node computed once (counted in files: nodes run in other
processes); a failing node is a ``NodeError`` and independent branches still
finish; a fully cached rerun sends nothing; two runs of one graph at once
compute each node once; ``wait=False`` runs can be cancelled.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import ipp_nodes as nodes
import pytest
from cluster_fixtures import wait_until

import pylearn_lab as pl
from pylearn_lab.errors import NodeError, RunCancelledError

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(240)]

ENGINES = ["threads", "processes", "ipyparallel", "dask", "queue"]


class _Counting:
    """Counts what the VM submits (a cached rerun must send nothing): calls of ``submit``
    and of the task plane's ``submit_tasks`` (cluster backends' tasks take that path)."""

    def __init__(self, inner: Any) -> None:
        self._inner, self.sent = inner, 0

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.sent += 1
        return self._inner.submit(fn, *args, **kwargs)

    def capabilities(self) -> Any:
        from pylearn_lab.backends.capabilities import capabilities_of

        caps = capabilities_of(self._inner)
        if caps.task_plane is None:
            return caps
        return dataclasses.replace(caps, task_plane=_CountingPlane(self, caps.task_plane))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _CountingPlane:
    def __init__(self, counter: _Counting, inner: Any) -> None:
        self._counter, self._inner = counter, inner

    def sees_store(self, cache: Any) -> bool:
        return self._inner.sees_store(cache)

    def submit_tasks(self, tasks: list) -> Any:
        self._counter.sent += 1
        return self._inner.submit_tasks(tasks)


@pytest.fixture(scope="module")
def dask_backend():
    pytest.importorskip("distributed")
    b = pl.DaskBackend.start(n=2)
    yield b
    b.stop()


@pytest.fixture(scope="module")
def queue_setup(pg_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("queue")
    url, blobs = pg_server.new_database(), root / "shared"
    pl.Cache(url, blobs=blobs)  # the shared directory and its marker (the user's own key)
    workers = [subprocess.Popen([sys.executable, "-m", "pylearn_lab", "worker", url, "--blobs",
                                 str(blobs), "--poll", "0.05"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for _ in range(2)]
    q = pl.QueueBackend(url)  # signs with the user's key, which the workers find too
    yield q, url, blobs
    q.close()
    for w in workers:
        os.kill(w.pid, signal.SIGTERM)
    for w in workers:
        w.wait(timeout=30)


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path):
    """``(backend, make_cache)`` for one engine; ``make_cache()`` opens the test's cache."""
    name = request.param
    if name == "threads":
        backend: Any = pl.ThreadBackend(4)
    elif name == "processes":
        backend = pl.ProcessBackend(2)
    elif name == "ipyparallel":
        backend = request.getfixturevalue("ipp_cluster")
    elif name == "dask":
        backend = request.getfixturevalue("dask_backend")
    else:
        q, url, blobs = request.getfixturevalue("queue_setup")
        db_cache = pl.Cache(url, blobs=blobs)
        db_cache.clear()  # one database for the module: start each test empty
        yield q, (lambda: pl.Cache(url, blobs=blobs))
        return
    yield backend, (lambda: pl.Cache(tmp_path / "cache"))
    if name in ("threads", "processes"):
        backend.close()


@pytest.fixture
def log(tmp_path: Path) -> str:
    d = tmp_path / "log"
    d.mkdir()
    return str(d)


def _graph(log: str):
    leaves = [nodes.plus(log, i, 10) for i in range(4)]
    return nodes.plus(log, nodes.plus(log, leaves[0], leaves[1]),
                      nodes.plus(log, leaves[2], leaves[3]))


def test_submit_gives_a_concurrent_future(engine) -> None:
    backend, _ = engine
    fut = backend.submit(pow, 2, 5)
    assert isinstance(fut, cf.Future) and fut.result(timeout=60) == 32
    assert backend.submit(int, "11", base=2).result(timeout=60) == 3


def test_values_and_keys_match_serial_and_each_node_runs_once(engine, log, tmp_path) -> None:
    backend, make_cache = engine
    serial = pl.Cache(tmp_path / "serial")
    expected = pl.run(_graph(log), backend="serial", cache=serial, progress=False)
    assert nodes.count(log, "plus") == 7
    cache = make_cache()
    assert pl.run(_graph(log), backend=backend, cache=cache, progress=False) == expected == 46
    assert nodes.count(log, "plus") == 14  # 7 more: each node once on this engine
    assert {r.key for r in cache.records()} == {r.key for r in serial.records()}


def test_a_failing_node_fails_alone(engine, log) -> None:
    backend, make_cache = engine
    cache = make_cache()
    ok = nodes.plus(log, 1, 2)
    with pytest.raises(NodeError) as info:
        pl.run([nodes.boom(log, 7), ok], backend=backend, cache=cache, progress=False)
    assert "boom on purpose (7)" in str(info.value) and "in boom" in info.value.remote_traceback
    assert cache.contains(ok)
    assert nodes.count(log, "boom") == 1  # a user error is never retried


def test_a_cached_rerun_sends_nothing(engine, log) -> None:
    backend, make_cache = engine
    pl.run(_graph(log), backend=backend, cache=make_cache(), progress=False)
    counting = _Counting(backend)
    assert pl.run(_graph(log), backend=counting, cache=make_cache(), progress=False) == 46
    assert counting.sent == 0 and nodes.count(log, "plus") == 7
    # the counter sees what the VM sends (the task plane included): a new node is sent
    assert pl.run(nodes.plus(log, 100, 1), backend=counting, cache=make_cache(),
                  progress=False) == 101
    assert counting.sent >= 1 and nodes.count(log, "plus") == 8


def test_two_runs_at_once_compute_each_node_once(engine, log, tmp_path) -> None:
    backend, make_cache = engine
    gate = tmp_path / "gate"
    leaves = [nodes.gated(log, i, str(gate)) for i in range(2)]
    graph = nodes.plus(log, leaves[0], leaves[1])
    queued = [threading.Event(), threading.Event()]
    handles = [pl.run(graph, backend=backend, cache=make_cache(), wait=False, progress=False,
                      callbacks=[lambda e, ev=ev: ev.set()]) for ev in queued]
    try:
        assert all(ev.wait(60) for ev in queued)
        wait_until(lambda: nodes.count(log, "start0") + nodes.count(log, "start1") >= 1,
                   timeout=60, what="a leaf running")
    finally:
        gate.touch()
    assert [h.result(timeout=90) for h in handles] == [1, 1]
    assert [nodes.count(log, f"done{i}") for i in range(2)] == [1, 1]
    assert nodes.count(log, "plus") == 1


def test_a_background_run_can_be_cancelled(engine, log, tmp_path) -> None:
    backend, make_cache = engine
    gate = tmp_path / "gate"
    handle = pl.run([nodes.gated(log, i, str(gate)) for i in range(2)], backend=backend,
                    cache=make_cache(), wait=False, progress=False)
    try:
        wait_until(lambda: nodes.count(log, "start0") + nodes.count(log, "start1") >= 1,
                   timeout=60, what="a node running")
        assert handle.cancel()
        with pytest.raises(RunCancelledError):
            handle.result(timeout=60)
    finally:
        gate.touch()
    assert backend.submit(abs, -9).result(timeout=60) == 9  # the engine still works
