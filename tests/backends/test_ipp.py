"""IPyParallelBackend against the shared real 2-engine cluster on 127.0.0.1.

Tests that kill engines or controllers start their own clusters: see
``test_ipp_faults.py``. Side effects are counted in files (``ipp_nodes``), since
the node functions run in engine processes.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import ipp_nodes as nodes
import pytest
from cluster_fixtures import use_cluster, wait_until

import pylearn_lab as pl
from pylearn_lab.backends.ipp import IPyParallelBackend
from pylearn_lab.errors import BackendError, NodeError, RunCancelledError

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]


@pytest.fixture
def log(tmp_path: Path) -> str:
    d = tmp_path / "log"
    d.mkdir()
    return str(d)


def _tracked_graph(log: str):
    made = nodes.make(log, 50_000, os.getpid())
    return nodes.sum_of(log, nodes.scale(log, made, 2.0))


def test_start_gives_two_tagged_engines_and_status(ipp_cluster) -> None:
    st = wait_until(lambda: (s := ipp_cluster.status()).busy == 0 and s, what="idle engines")
    assert st.engines == 2 and ipp_cluster.workers == 2 and st.queued == 0
    assert "2 engines" in str(st)
    pids = ipp_cluster.engine_pids()
    assert sorted(pids) == [0, 1] and os.getpid() not in pids.values()
    got = ipp_cluster.client[:].apply_sync(os.getenv, "PYLEARN_ENGINE_ID")
    assert sorted(got) == ["0", "1"]


def test_submit_returns_a_concurrent_future(ipp_cluster) -> None:
    fut = ipp_cluster.submit(pow, 2, 10)
    assert isinstance(fut, cf.Future)
    assert fut.result(timeout=30) == 1024
    assert ipp_cluster.submit(int, "ff", base=16).result(timeout=30) == 255


def test_backend_by_name_and_events_name_the_engine(ipp_cluster, tmp_path) -> None:
    use_cluster(ipp_cluster)
    rec = pl.Recorder()
    out = pl.run([nodes.where(), nodes.tiny(3)], backend="ipyparallel",
                 cache=pl.Cache(tmp_path / "c"), callbacks=[rec], progress=False)
    assert out[0] in ("0", "1") and out[1] == 10
    engines = {e.info.get("engine") for e in rec.events if e.kind == "done"}
    assert engines <= {"engine 0", "engine 1"} and engines


def test_functions_from_a_test_module_run_with_in_process_keys(ipp_cluster, log, tmp_path) -> None:
    """``ipp_nodes`` is not importable on engines: its functions travel by value."""
    assert not ipp_cluster.client[0].apply_sync(__import__("importlib").util.find_spec, "ipp_nodes")
    local, remote = pl.Cache(tmp_path / "local"), pl.Cache(tmp_path / "remote")
    e = _tracked_graph(log)
    assert pl.run(e, backend="serial", cache=local, progress=False) == \
        pl.run(e, backend=ipp_cluster, cache=remote, progress=False)
    keys_local = {r.key for r in local.records()}
    keys_remote = {r.key for r in remote.records()}
    assert keys_local == keys_remote and len(keys_remote) == 3
    assert {r.engine for r in remote.records()} <= {"engine 0", "engine 1"}


def test_store_mode_engines_write_entries_and_the_client_never_holds_intermediates(
        ipp_cluster, log, tmp_path) -> None:
    cache = pl.Cache(tmp_path / "c")
    assert ipp_cluster.sees_store(cache)  # same host: the token probe finds the directory
    before = Counter(ipp_cluster.blob_writers)
    rec = pl.Recorder()
    total = pl.run(_tracked_graph(log), backend=ipp_cluster, cache=cache, callbacks=[rec],
                   progress=False)
    assert total == pytest.approx(2 * sum(range(50_000)))
    assert nodes.count(log, "client-unpickled") == 0  # intermediates stayed in the store
    done = [e for e in rec.events if e.kind == "done"]
    assert len(done) == 3 and all(e.info["stored"] for e in done)
    assert len(cache.records()) == 3
    # the two arrays are blobs written by the engines that computed them
    engine_pids = set(ipp_cluster.engine_pids().values())
    writers = Counter(ipp_cluster.blob_writers) - before
    assert sum(writers.values()) == len(list((tmp_path / "c" / "blobs").glob("*/*"))) == 2
    assert set(writers) <= engine_pids
    # no engine ever opened the SQLite index: the client is its one writer
    for pid in engine_pids:
        opened = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()
                  if not f.name.startswith(".")]
        assert not [f for f in opened if "index.sqlite" in f], opened


def test_ship_mode_gives_the_same_values_and_keys(ipp_cluster, log, tmp_path) -> None:
    ship = IPyParallelBackend.connect(client=ipp_cluster.client, data_plane="ship")
    try:
        use_cluster(ipp_cluster)
        a, b = pl.Cache(tmp_path / "a"), pl.Cache(tmp_path / "b")
        assert not ship.sees_store(a)
        e = _tracked_graph(log)
        assert pl.run(e, backend=ship, cache=a, progress=False) == \
            pl.run(e, backend=ipp_cluster, cache=b, progress=False)
        assert {r.key for r in a.records()} == {r.key for r in b.records()}
        assert nodes.count(log, "client-unpickled") >= 2  # values travelled to the client
    finally:
        ship.stop()
    assert ipp_cluster.submit(abs, -1).result(timeout=30) == 1  # the shared client still works


def test_auto_detects_a_cache_the_engines_cannot_see(ipp_cluster, log, tmp_path) -> None:
    """The cache directory is reached through ``/proc/self/fd/N``: a path that names the
    directory only inside this process (each process resolves its *own* descriptor N).
    The engines are on the same host as the same user, so this is the honest way to
    give them a path they cannot see -- as a laptop path is to a remote cluster. The
    backend is not told: its per-engine probe must find out. Values then travel as
    stored bytes: the client writes every blob and never unpickles an intermediate."""
    real = tmp_path / "private"
    real.mkdir()
    fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY)
    try:
        cache = pl.Cache(f"/proc/self/fd/{fd}/cache")
        before = Counter(ipp_cluster.blob_writers)
        visible = pl.Cache(tmp_path / "visible")
        assert ipp_cluster.sees_store(visible)  # waits for the first engine's answer only
        wait_until(lambda: ipp_cluster.seeing_engines(visible) == {0, 1}, timeout=10,
                   what="both engines see the visible cache")
        assert ipp_cluster.sees_store(cache)  # the store plane still applies...
        wait_until(lambda: len(ipp_cluster.engine_views(cache)) == 2, timeout=10,
                   what="both engines answered")
        assert ipp_cluster.seeing_engines(cache) == set()  # ...with no engine seeing it
        assert all(not ok and "no directory" in why
                   for ok, why in ipp_cluster.engine_views(cache).values())
        total = pl.run(_tracked_graph(log), backend=ipp_cluster, cache=cache, progress=False)
        assert total == pytest.approx(2 * sum(range(50_000)))
        assert nodes.count(log, "client-unpickled") == 0
        stored = pl.Cache(real / "cache")
        assert len(stored.records()) == 3  # the client stored them
        assert {r.engine for r in stored.records()} <= {"engine 0", "engine 1"}
        writers = Counter(ipp_cluster.blob_writers) - before
        assert len(list((real / "cache" / "blobs").glob("*/*"))) == 2
        assert writers == {os.getpid(): 2}  # the two 400 KB arrays: blobs written by the client
    finally:
        os.close(fd)


def test_a_failing_node_names_its_engine_and_other_branches_finish(ipp_cluster, log,
                                                                  tmp_path) -> None:
    cache = pl.Cache(tmp_path / "c")
    ok = nodes.plus(log, 1, 2)
    with pytest.raises(NodeError) as info:
        pl.run([nodes.boom(log, 5), ok], backend=ipp_cluster, cache=cache, progress=False)
    err = info.value
    assert err.engine in ("engine 0", "engine 1")
    assert "ValueError" in err.cause_type and "boom on purpose (5)" in str(err)
    # the user's file and line, although cloudpickle sent the function by value
    assert "ipp_nodes.py" in err.remote_traceback and "in boom" in err.remote_traceback
    assert 'raise ValueError(f"boom on purpose' in err.remote_traceback
    assert cache.contains(ok)


def test_tiny_nodes_go_in_batches_and_are_cached_one_by_one(ipp_cluster, tmp_path,
                                                           monkeypatch) -> None:
    assert ipp_cluster.batch_hint(20_000) == ipp_cluster.batch_cap
    assert ipp_cluster.batch_hint(2000) == 2000 // 8  # four tasks per engine
    assert ipp_cluster.batch_hint(3) == 1
    sent: list = []  # nodes per task: the VM's tasks take the backend's task plane
    plane = ipp_cluster.capabilities().task_plane
    real_submit = plane.submit_tasks
    monkeypatch.setattr(plane, "submit_tasks",
                        lambda tasks: sent.append(len(tasks)) or real_submit(tasks))
    cache = pl.Cache(tmp_path / "c")
    batches0 = ipp_cluster.index_batches
    exprs = [nodes.tiny(i) for i in range(400)]
    assert pl.run(exprs, backend=ipp_cluster, cache=cache, progress=False) == \
        [i * i + 1 for i in range(400)]
    assert max(sent) > 1 and len(sent) <= 400 // 8 and sum(sent) == 400
    assert cache.contains_many([e.key for e in exprs]) == {e.key for e in exprs}
    assert ipp_cluster.index_batches - batches0 <= len(sent)  # index writes batched
    sent.clear()
    assert pl.run(exprs, backend=ipp_cluster, cache=cache, progress=False)[5] == 26
    assert sent == []  # fully cached: nothing goes to the engines


def test_functions_seen_to_be_slow_go_one_per_task(ipp_cluster, tmp_path) -> None:
    cache = pl.Cache(tmp_path / "c")
    pl.run([nodes.slowish(i) for i in range(16)], backend=ipp_cluster, cache=cache,
           progress=False)  # the backend learns that slowish takes ~50 ms
    before = len(ipp_cluster.sent_tasks)
    exprs = [nodes.slowish(i) for i in range(16, 32)] + [nodes.tiny(i) for i in range(16)]
    assert pl.run(exprs, backend=ipp_cluster, cache=cache, progress=False) == \
        list(range(16, 32)) + [i * i + 1 for i in range(16)]
    groups = ipp_cluster.sent_tasks[before:]
    assert all(len(g) == 1 for g in groups if "slowish" in g)
    assert sum(g.count("slowish") for g in groups) == 16
    assert any(len(g) > 1 for g in groups)  # the tiny ones still share tasks


def test_wait_false_returns_at_once_and_cancel_stops_the_run(ipp_cluster, log, tmp_path) -> None:
    gate = str(tmp_path / "gate")
    cache = pl.Cache(tmp_path / "c")
    handle = pl.run([nodes.gated(log, i, gate) for i in range(3)], backend=ipp_cluster,
                    cache=cache, wait=False)
    try:
        assert not handle.done()  # the nodes cannot finish before the gate opens
        wait_until(lambda: nodes.count(log, "start0") + nodes.count(log, "start1")
                   + nodes.count(log, "start2") == 2, what="two nodes running")
        st = ipp_cluster.status()
        assert st.busy == 2 and st.pending >= 1
        assert handle.progress["running"] == 3
        assert handle.cancel()
        with pytest.raises(RunCancelledError):
            handle.result(timeout=30)
    finally:
        Path(gate).touch()  # free the engines
    wait_until(lambda: ipp_cluster.status().busy == 0, what="idle engines")


def test_wait_false_asks_the_engines_off_the_callers_thread(ipp_cluster, tmp_path,
                                                            monkeypatch) -> None:
    """Asking engines about a new cache waits for a free engine: never in the notebook's thread."""
    askers: list[str] = []
    real = ipp_cluster.sees_store
    monkeypatch.setattr(ipp_cluster, "sees_store",
                        lambda c: askers.append(threading.current_thread().name) or real(c))
    handle = pl.run(nodes.tiny(41), backend=ipp_cluster, cache=pl.Cache(tmp_path / "c"),
                    wait=False)
    assert handle.result(timeout=30) == 41 * 41 + 1
    assert askers and threading.main_thread().name not in askers


def test_two_runs_in_threads_compute_each_key_once(ipp_cluster, log, tmp_path) -> None:
    gate = str(tmp_path / "gate")
    cache_dir = tmp_path / "c"
    leaves = [nodes.gated(log, i, gate) for i in range(3)]
    graph = nodes.plus(log, nodes.plus(log, leaves[0], leaves[1]), leaves[2])
    queued = [threading.Event(), threading.Event()]
    handles = [pl.run(graph, backend=ipp_cluster, cache=pl.Cache(cache_dir), wait=False,
                      progress=False, callbacks=[lambda e, ev=ev: ev.set()])
               for ev in queued]
    assert all(ev.wait(30) for ev in queued)
    Path(gate).touch()
    assert [h.result(timeout=60) for h in handles] == [3, 3]
    assert [nodes.count(log, f"done{i}") for i in range(3)] == [1, 1, 1]
    assert nodes.count(log, "plus") == 2


def test_two_clients_in_two_processes_compute_each_key_once(ipp_cluster, log, tmp_path) -> None:
    """Run A (this process) holds the leaves' claims; client B (a subprocess with its own
    ipyparallel Client) plans the same graph while they run. Both get the answer; the
    side-effect files show each node ran once."""
    gate = str(tmp_path / "gate")
    cache_dir = tmp_path / "c"
    here = Path(__file__).parent
    leaves = [nodes.gated(log, i, gate) for i in range(3)]
    graph = nodes.plus(log, nodes.plus(log, leaves[0], leaves[1]), leaves[2])
    a = pl.run(graph, backend=ipp_cluster, cache=pl.Cache(cache_dir), wait=False, progress=False)
    wait_until(lambda: nodes.count(log, "start0") + nodes.count(log, "start1") >= 1,
               what="run A started")
    cl = ipp_cluster.cluster
    script = textwrap.dedent(f"""
        import sys, pathlib
        sys.path.insert(0, {str(here)!r})
        import ipp_nodes as nodes, pylearn_lab as pl
        from pylearn_lab.backends.ipp import IPyParallelBackend
        b = IPyParallelBackend.connect(profile_dir={str(cl.profile_dir)!r},
                                       cluster_id={cl.cluster_id!r})
        log, gate = {log!r}, {gate!r}
        leaves = [nodes.gated(log, i, gate) for i in range(3)]
        graph = nodes.plus(log, nodes.plus(log, leaves[0], leaves[1]), leaves[2])
        seen = []
        def note(e):
            seen.append(e)
            if e.kind == "queued":
                pathlib.Path(log, "..", "b-planned").touch()
        value = pl.run(graph, backend=b, cache=pl.Cache({str(cache_dir)!r}), callbacks=[note],
                       progress=False)
        waited = sum(1 for e in seen if e.info.get("computed_by") == "another run")
        print(value, waited)
        b.stop()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (tmp_path / "b-planned").exists() or proc.poll() is not None,
                   timeout=60, what="client B planned")
        Path(gate).touch()
        out, err = proc.communicate(timeout=60)
    finally:
        Path(gate).touch()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    value, waited = map(int, out.split())
    assert value == 3 and a.result(timeout=60) == 3
    assert waited >= 3  # B waited for A's leaves instead of computing them
    assert [nodes.count(log, f"done{i}") for i in range(3)] == [1, 1, 1]
    assert nodes.count(log, "plus") == 2


def test_connect_by_profile_and_stop_only_disconnects(ipp_cluster) -> None:
    cl = ipp_cluster.cluster
    other = IPyParallelBackend.connect(profile_dir=str(cl.profile_dir), cluster_id=cl.cluster_id)
    try:
        assert other.status().engines == 2
        assert other.submit(pow, 3, 3).result(timeout=30) == 27
    finally:
        other.stop()
    assert ipp_cluster.status().engines == 2  # the cluster itself is untouched
    by_file = IPyParallelBackend.connect(
        url_file=str(Path(cl.profile_dir, "security", f"ipcontroller-{cl.cluster_id}-client.json")))
    try:
        assert by_file.submit(pow, 2, 3).result(timeout=30) == 8
    finally:
        by_file.stop()
    with pytest.raises(BackendError):
        other.submit(abs, 1)
    with pytest.raises(BackendError, match="could not connect"):
        IPyParallelBackend.connect(url_file=str(Path(cl.profile_dir) / "nope.json"), timeout=1)


def test_a_notebook_defined_function_runs_on_engines(ipp_cluster, tmp_path) -> None:
    """Defined in an IPython shell's ``__main__``, exactly as in a notebook cell."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.enabled = False
    ip = InteractiveShell.instance(config=cfg)
    try:
        ip.user_ns.update(backend=ipp_cluster, cache=pl.Cache(tmp_path / "c"))
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
