"""DaskBackend against a real dask.distributed LocalCluster on 127.0.0.1.

Two worker processes (``processes=True``, one thread each, no dashboard) shared
by this module; tests that kill workers or schedulers start their own. Side
effects are counted in files (``ipp_nodes``): the node functions run in worker
processes, and that module is not importable there (it travels by value).
Which process computed and stored an entry is read from its record (``pid``);
blob files are named by key alone (``blobs/ab/<key>``).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import signal
import textwrap
import threading
from pathlib import Path

import ipp_nodes as nodes
import pytest
from cluster_fixtures import wait_until

import pylearn_lab as pl
from pylearn_lab.backends import resolve_backend
from pylearn_lab.errors import (BackendError, ClusterGoneError, NodeError, NoEnginesError,
                                RunCancelledError)

distributed = pytest.importorskip("distributed")
DaskBackend = pl.DaskBackend

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def dask_cluster():
    backend = DaskBackend.start(n=2)
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture
def log(tmp_path: Path) -> str:
    d = tmp_path / "log"
    d.mkdir()
    return str(d)


def _tracked_graph(log: str):
    made = nodes.make(log, 50_000, os.getpid())  # 400 kB: stored as a blob file, not inline
    return nodes.sum_of(log, nodes.scale(log, made, 2.0))


def _blob_files(cache_dir: Path) -> set[str]:
    """Names of the blob files under ``cache_dir`` (named by key alone: who wrote one is in
    its record, ``pid``)."""
    return {p.name for p in (cache_dir / "blobs").glob("*/*")}


def test_submit_returns_a_concurrent_future_on_worker_processes(dask_cluster) -> None:
    fut = dask_cluster.submit(pow, 2, 10)
    assert isinstance(fut, cf.Future) and fut.result(timeout=30) == 1024
    assert dask_cluster.submit(int, "ff", base=16).result(timeout=30) == 255
    pids = dask_cluster.worker_pids()
    assert len(pids) == 2 and os.getpid() not in pids.values()
    assert dask_cluster.workers == 2
    tags = dask_cluster.client.run(os.getenv, "PYLEARN_ENGINE_ID")
    assert sorted(tags.values()) == ["0", "1"]  # the worker plugin tagged both


def test_a_distributed_client_is_a_backend(dask_cluster, tmp_path) -> None:
    client = dask_cluster.client
    wrapped = resolve_backend(client)
    assert isinstance(wrapped, DaskBackend) and resolve_backend(client) is wrapped
    rec = pl.Recorder()
    out = pl.run([nodes.where(), nodes.tiny(3)], backend=client, cache=pl.Cache(tmp_path / "c"),
                 callbacks=[rec], progress=False)
    assert out[0] in ("0", "1") and out[1] == 10
    engines = {e.info.get("engine") for e in rec.events if e.kind == "done"}
    assert engines and engines <= {"engine 0", "engine 1"}
    wrapped.stop()  # a user's client is never closed by the backend that wraps it
    assert client.status == "running" and client.submit(abs, -4).result(timeout=30) == 4
    assert resolve_backend(client) is not wrapped  # a stopped wrapper is replaced


def test_workers_write_blobs_and_the_client_never_holds_intermediates(dask_cluster, log,
                                                                      tmp_path) -> None:
    cache = pl.Cache(tmp_path / "c")
    assert dask_cluster.sees_store(cache)  # the token probe found the directory
    rec = pl.Recorder()
    total = pl.run(_tracked_graph(log), backend=dask_cluster, cache=cache, callbacks=[rec],
                   progress=False)
    assert total == pytest.approx(2 * sum(range(50_000)))
    assert nodes.count(log, "client-unpickled") == 0
    done = [e for e in rec.events if e.kind == "done"]
    assert len(done) == 3 and all(e.info["stored"] for e in done)
    workers = set(dask_cluster.worker_pids().values())
    recs = cache.records()
    assert _blob_files(tmp_path / "c") and _blob_files(tmp_path / "c") <= {r.key for r in recs}
    assert {r.pid for r in recs} <= workers  # computed and stored by worker processes


def test_ship_mode_gives_the_same_values_and_keys(dask_cluster, log, tmp_path) -> None:
    ship = DaskBackend(dask_cluster.client, data_plane="ship")
    a, b = pl.Cache(tmp_path / "a"), pl.Cache(tmp_path / "b")
    assert not ship.sees_store(a)
    e = _tracked_graph(log)
    assert pl.run(e, backend=ship, cache=a, progress=False) == \
        pl.run(e, backend=dask_cluster, cache=b, progress=False)
    assert {r.key for r in a.records()} == {r.key for r in b.records()}
    assert nodes.count(log, "client-unpickled") >= 2  # values travelled to the client
    assert _blob_files(tmp_path / "a") == _blob_files(tmp_path / "b")  # ...which stored them
    ship.stop()
    assert dask_cluster.submit(abs, -1).result(timeout=30) == 1


def test_auto_detects_a_cache_the_workers_cannot_see(dask_cluster, log, tmp_path) -> None:
    """``/proc/self/fd/N`` names the directory only inside this process (see test_ipp)."""
    real = tmp_path / "private"
    real.mkdir()
    fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY)
    try:
        cache = pl.Cache(f"/proc/self/fd/{fd}/cache")
        assert not dask_cluster.sees_store(cache)
        total = pl.run(_tracked_graph(log), backend=dask_cluster, cache=cache, progress=False)
        assert total == pytest.approx(2 * sum(range(50_000)))
        assert nodes.count(log, "client-unpickled") >= 2
        assert len(pl.Cache(real / "cache").records()) == 3
    finally:
        os.close(fd)


def test_a_failing_node_names_its_worker_and_other_branches_finish(dask_cluster, log,
                                                                  tmp_path) -> None:
    cache = pl.Cache(tmp_path / "c")
    ok = nodes.plus(log, 1, 2)
    with pytest.raises(NodeError) as info:
        pl.run([nodes.boom(log, 5), ok], backend=dask_cluster, cache=cache, progress=False)
    err = info.value
    assert err.engine in ("engine 0", "engine 1")
    assert "ValueError" in err.cause_type and "boom on purpose (5)" in str(err)
    assert "ipp_nodes.py" in err.remote_traceback and "in boom" in err.remote_traceback
    assert cache.contains(ok)
    assert nodes.count(log, "boom") == 1  # a user error is not retried


def test_tiny_nodes_go_in_batches_and_are_cached_one_by_one(dask_cluster, tmp_path,
                                                           monkeypatch) -> None:
    assert dask_cluster.batch_hint(2000) == dask_cluster.batch_cap
    assert dask_cluster.batch_hint(3) == 1
    sent: list = []  # nodes per task: the VM's tasks take the backend's task plane
    plane = dask_cluster.capabilities().task_plane
    real_submit = plane.submit_tasks
    monkeypatch.setattr(plane, "submit_tasks",
                        lambda tasks: sent.append(len(tasks)) or real_submit(tasks))
    cache = pl.Cache(tmp_path / "c")
    exprs = [nodes.tiny(i) for i in range(400)]
    assert pl.run(exprs, backend=dask_cluster, cache=cache, progress=False) == \
        [i * i + 1 for i in range(400)]
    assert max(sent) > 1 and len(sent) <= 400 // 8 and sum(sent) == 400
    assert cache.contains_many([e.key for e in exprs]) == {e.key for e in exprs}
    sent.clear()
    assert pl.run(exprs, backend=dask_cluster, cache=cache, progress=False)[5] == 26
    assert sent == []  # fully cached: nothing goes to the workers


def test_functions_seen_to_be_slow_go_one_per_task(dask_cluster, tmp_path, monkeypatch) -> None:
    cache = pl.Cache(tmp_path / "c")
    pl.run([nodes.slowish(i) for i in range(16)], backend=dask_cluster, cache=cache,
           progress=False)
    groups: list[list[str]] = []
    real_send = dask_cluster._send

    def spy(fn, args, keys, tasks):
        groups.append([t.call.label for t in tasks])
        return real_send(fn, args, keys, tasks)

    monkeypatch.setattr(dask_cluster, "_send", spy)
    exprs = [nodes.slowish(i) for i in range(16, 32)] + [nodes.tiny(i) for i in range(16)]
    assert pl.run(exprs, backend=dask_cluster, cache=cache, progress=False) == \
        list(range(16, 32)) + [i * i + 1 for i in range(16)]
    assert all(len(g) == 1 for g in groups if "slowish" in g)
    assert sum(g.count("slowish") for g in groups) == 16
    assert any(len(g) > 1 for g in groups)


def test_two_runs_in_threads_compute_each_key_once(dask_cluster, log, tmp_path) -> None:
    gate = str(tmp_path / "gate")
    cache_dir = tmp_path / "c"
    leaves = [nodes.gated(log, i, gate) for i in range(3)]
    graph = nodes.plus(log, nodes.plus(log, leaves[0], leaves[1]), leaves[2])
    queued = [threading.Event(), threading.Event()]
    handles = [pl.run(graph, backend=dask_cluster, cache=pl.Cache(cache_dir), wait=False,
                      progress=False, callbacks=[lambda e, ev=ev: ev.set()])
               for ev in queued]
    assert all(ev.wait(30) for ev in queued)
    Path(gate).touch()
    assert [h.result(timeout=60) for h in handles] == [3, 3]
    assert [nodes.count(log, f"done{i}") for i in range(3)] == [1, 1, 1]
    assert nodes.count(log, "plus") == 2


def test_wait_false_and_cancel_stop_the_run_and_free_the_workers(dask_cluster, log,
                                                                 tmp_path) -> None:
    gate = str(tmp_path / "gate")
    handle = pl.run([nodes.gated(log, i, gate) for i in range(3)], backend=dask_cluster,
                    cache=pl.Cache(tmp_path / "c"), wait=False, progress=False)
    try:
        assert not handle.done()
        wait_until(lambda: sum(nodes.count(log, f"start{i}") for i in range(3)) == 2,
                   what="two nodes running")
        assert handle.cancel()
        with pytest.raises(RunCancelledError):
            handle.result(timeout=30)
    finally:
        Path(gate).touch()
    assert dask_cluster.submit(abs, -2).result(timeout=30) == 2


def test_a_notebook_defined_function_runs_on_workers(dask_cluster, tmp_path) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.enabled = False
    ip = InteractiveShell.instance(config=cfg)
    try:
        ip.user_ns.update(backend=dask_cluster.client, cache=pl.Cache(tmp_path / "c"))
        result = ip.run_cell(textwrap.dedent("""
            import os, pylearn_lab as pl
            OFFSET = 100
            def helper(x):
                return x + OFFSET
            @pl.component
            def cell_fn(x: int) -> tuple:
                return helper(x), os.environ.get("PYLEARN_ENGINE_ID")
            out = pl.run([cell_fn(1), cell_fn(2)], backend=backend, cache=cache, progress=False)
            key_here = cell_fn(1).key
        """))
        assert result.success, result.error_in_exec
        out = ip.user_ns["out"]
        assert [o[0] for o in out] == [101, 102] and {o[1] for o in out} <= {"0", "1"}
        assert ip.user_ns["cache"].contains(ip.user_ns["key_here"])
    finally:
        InteractiveShell.clear_instance()


def test_bad_clients_and_addresses_give_clear_errors() -> None:
    with pytest.raises(BackendError, match="expected a distributed.Client, received str"):
        DaskBackend("tcp://127.0.0.1:1")
    with pytest.raises(BackendError, match="could not connect to a dask scheduler"):
        DaskBackend.connect("tcp://127.0.0.1:9", timeout=1)
    with pytest.raises(ValueError, match="data_plane= expected one of"):
        DaskBackend(object(), data_plane="sideways")


# -- faults: clusters of their own -------------------------------------------------------
def test_worker_killed_mid_task_is_retried_elsewhere_without_recomputing(log, tmp_path) -> None:
    gate = str(tmp_path / "gate")
    cache = pl.Cache(tmp_path / "c")
    backend = DaskBackend.start(n=2)
    try:
        first = nodes.plus(log, 2, 3)
        assert pl.run(first, backend=backend, cache=cache, progress=False) == 5
        handle = pl.run([nodes.retried(log, gate), first], backend=backend, cache=cache,
                        wait=False, progress=False)
        pid_file = wait_until(lambda: next(Path(log).glob("pid-retried-*"), None),
                              what="the node started")
        victim = int(pid_file.name.rsplit("-", 1)[1])
        assert victim in backend.worker_pids().values()
        os.kill(victim, signal.SIGKILL)
        assert handle.result(timeout=90) == [7, 5]
        assert nodes.count(log, "retried-start") == 2  # once killed, once on a live worker
        assert nodes.count(log, "retried-done") == 1
        assert nodes.count(log, "plus") == 1  # the finished node was not recomputed
    finally:
        Path(gate).touch()
        backend.stop()


def test_zero_workers_give_no_engines_error_not_a_hang(tmp_path) -> None:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=0, processes=True, host="127.0.0.1", dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                      silence_logs=logging.ERROR) as lc, Client(lc) as client:
        backend = DaskBackend(client, engine_timeout=1.0)
        with pytest.raises(NoEnginesError, match="no workers"):
            pl.run(nodes.tiny(1), backend=backend, cache=False, progress=False, timeout=60)
        backend.stop()
        assert client.status == "running"  # not the backend's client to close


def test_a_scheduler_that_dies_gives_cluster_gone_error_not_a_hang(log, tmp_path) -> None:
    from distributed import Client, LocalCluster

    gate = tmp_path / "gate"
    lc = LocalCluster(n_workers=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                      silence_logs=logging.CRITICAL)
    client = Client(lc)
    try:
        backend = DaskBackend(client, health_timeout=2.0)
        handle = pl.run(nodes.gated(log, 0, str(gate)), backend=backend, cache=False,
                        wait=False, progress=False)
        wait_until(lambda: nodes.count(log, "start0") == 1, what="the node running")
        lc.close()  # scheduler and worker gone while the node runs
        with pytest.raises(ClusterGoneError, match="dask"):
            handle.result(timeout=60)
        with pytest.raises(BackendError):
            backend.submit(abs, -1).result(timeout=30)
    finally:
        gate.touch()
        client.close()
        lc.close()
