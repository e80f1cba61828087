"""Red team (session 5) of the ipyparallel send path (``send.py``'s ``Sender``/``Sent``),
the VM's window on a real cluster, and the indexer's ``enqueue(into=)``.

Everything runs on the shared 2-engine loopback cluster (``ipp_cluster``); each test
attaches its own backend to it (``connect(client=)``: its ``stop`` only detaches).
Side effects are counted in files, since nodes run in engine processes.
"""

from __future__ import annotations

import concurrent.futures as cf
import shutil
import tempfile
import threading
import time
from pathlib import Path

import ipp_nodes as nodes
import pytest
from cluster_fixtures import wait_until
from ipyparallel import error as ipp_error

import pylearn_lab as pl
from pylearn_lab.backends.ipp.adopt import Indexer
from pylearn_lab.backends.ipp.send import Sender, Sent
from pylearn_lab.cache.serialize import encode
from pylearn_lab.errors import NodeError
from pylearn_lab.vm.task import Receipt

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(90)]


@pytest.fixture
def log(tmp_path: Path) -> str:
    d = tmp_path / "log"
    d.mkdir()
    return str(d)


@pytest.fixture
def backend(ipp_cluster):
    b = pl.IPyParallelBackend.connect(client=ipp_cluster.client)
    b.batch_cap = 1  # one node per task: the Sent path for each, and a real window
    yield b
    b.stop()


# these nodes travel by value and must not reach ipp_nodes (not importable on engines)
@pl.component
def lock_value(log: str, i: int):
    import os
    import threading

    Path(log, f"lock-{os.getpid()}-{os.urandom(4).hex()}").touch()
    return threading.Lock()  # no pickle can carry this back or store it


@pl.component
def napping(log: str, i: int, seconds: float) -> int:
    import os
    import time

    Path(log, f"nap{i}-{os.getpid()}-{os.urandom(4).hex()}").touch()
    time.sleep(seconds)
    return i


def test_a_raising_node_among_a_full_window(backend, log, tmp_path) -> None:
    """150 one-per-task nodes, more than the window; one raises on its engine: the run
    names it, has every other result, and computed each node once."""
    cache = pl.Cache(str(tmp_path / "c"))
    exprs = [nodes.plus(log, i, 1) for i in range(150)]
    bad = nodes.boom(log, 7)
    with pytest.raises(NodeError, match=r"boom on purpose \(7\)") as info:
        pl.run([*exprs, bad], backend=backend, cache=cache, progress=False, timeout=60)
    assert info.value.partial == {e.key: i + 1 for i, e in enumerate(exprs)}
    assert nodes.count(log, "plus") == 150 and nodes.count(log, "boom") == 1
    # the next run: hits for the 150, the failure runs again (never cached)
    with pytest.raises(NodeError):
        pl.run([*exprs, bad], backend=backend, cache=cache, progress=False, timeout=60)
    assert nodes.count(log, "plus") == 150 and nodes.count(log, "boom") == 2


def test_an_unpicklable_return_fails_its_node_clearly_not_the_run(backend, log, tmp_path) -> None:
    cache = pl.Cache(str(tmp_path / "c"))
    good = [nodes.plus(log, i, 2) for i in range(5)]
    with pytest.raises(NodeError) as info:
        pl.run([*good, lock_value(log, 0)], backend=backend, cache=cache, progress=False,
               timeout=60)
    msg = str(info.value)
    assert "lock" in msg.lower() and ("pickle" in msg.lower() or "serial" in msg.lower()), msg
    assert nodes.count(log, "lock") == 1
    assert info.value.partial == {e.key: i + 2 for i, e in enumerate(good)}
    # the engine is still usable
    assert pl.run(nodes.tiny(4), backend=backend, cache=False, progress=False, timeout=30) == 17


def test_an_aborted_queued_task_reports_task_aborted_through_sent(ipp_cluster) -> None:
    client = ipp_cluster.client
    view = client.load_balanced_view()
    sender = Sender(view, time.sleep)
    assert sender.direct
    busy = [sender.send(1.5) for _ in range(len(client.ids))]  # every engine taken
    queued = sender.send(0)
    client.abort(queued.msg_ids, block=False)
    exc = queued.exception(timeout=30)
    assert isinstance(exc, ipp_error.TaskAborted), exc
    with pytest.raises(ipp_error.TaskAborted):
        queued.result()
    assert all(s.result(30) is None for s in busy)


def test_a_sent_cancel_through_the_watchdog_future_aborts_on_the_cluster(backend,
                                                                        ipp_cluster) -> None:
    """TaskFuture.cancel() on a queued Sent task: it never runs (abort uses Sent.msg_ids),
    and the cluster's reply, not the cancel, settles the future (False: only the cluster
    knows whether an engine had taken it already)."""
    client = ipp_cluster.client
    watch = backend._watch
    sender = Sender(client.load_balanced_view(), time.sleep)
    busy = [watch.track(sender.send(1.5)) for _ in range(len(client.ids))]
    queued = watch.track(sender.send(0))
    assert not queued.cancel()
    with pytest.raises(cf.CancelledError):  # the abort asked for: cancelled, as before
        queued.result(timeout=30)
    assert queued.cancelled() and isinstance(queued.ar.exception(), ipp_error.TaskAborted)
    for f in busy:
        with pytest.raises(Exception):  # the return value is None, not call_pickled's bytes
            f.result(30)


def test_cancel_while_nodes_run_on_engines_then_run_again(backend, log, tmp_path) -> None:
    """A run cancelled while its nodes are running on engines, and the same run started
    at once: every node is computed exactly once (the engines' results are stored, and
    the second run must not compute them a second time meanwhile)."""
    cache = pl.Cache(str(tmp_path / "c"))
    gate = str(tmp_path / "gate")
    exprs = [nodes.gated(log, i, gate) for i in range(4)]
    first = pl.run(exprs, backend=backend, cache=cache, progress=False, wait=False)
    wait_until(lambda: nodes.count(log, "start0") + nodes.count(log, "start1")
               + nodes.count(log, "start2") + nodes.count(log, "start3") == 2,
               timeout=30, what="two nodes running")
    first.cancel()
    with pytest.raises(pl.errors.RunCancelledError):
        first.result(timeout=30)
    second = pl.run(exprs, backend=backend, cache=cache, progress=False, wait=False)
    time.sleep(1.0)  # the second run sends what it can
    Path(gate).touch()
    assert second.result(timeout=60) == [0, 1, 2, 3]
    starts = {i: nodes.count(log, f"start{i}") for i in range(4)}
    assert starts == {0: 1, 1: 1, 2: 1, 3: 1}, starts


def test_node_timeout_while_the_window_is_full(backend, log, tmp_path) -> None:
    """One node past its timeout among more one-per-task nodes than the window: it is
    stopped and named, the others all arrive, and the engine takes work again."""
    cache = pl.Cache(str(tmp_path / "c"))
    backend.stop_grace = 3.0
    slowpoke = napping(log, 0, 30.0)
    quick = [nodes.plus(log, i, 3) for i in range(100)]
    t0 = time.monotonic()
    with pytest.raises(NodeError, match="timeout of 2 s") as info:
        pl.run([slowpoke, *quick], backend=backend, cache=cache, progress=False,
               node_timeout=2.0, timeout=60)
    assert time.monotonic() - t0 < 25
    assert info.value.partial == {e.key: i + 3 for i, e in enumerate(quick)}
    assert nodes.count(log, "plus") == 100
    wait_until(lambda: backend.status().busy == 0, timeout=20, what="the engine freed")
    assert pl.run(nodes.tiny(5), backend=backend, cache=False, progress=False, timeout=30) == 26


def test_two_threads_share_a_cache_and_a_windowed_cluster(backend, log, tmp_path) -> None:
    """Two runs at once over overlapping one-per-task nodes (each wider than the
    window): every key once, and neither waits out a claim's 60 s."""
    cache = pl.Cache(str(tmp_path / "c"))
    out: dict[str, object] = {}

    def go(name: str, rng: range) -> None:
        try:
            out[name] = pl.run([nodes.plus(log, i, 0) for i in rng], backend=backend,
                               cache=cache, progress=False, timeout=40)
        except BaseException as exc:
            out[name] = exc

    t0 = time.monotonic()
    ts = [threading.Thread(target=go, args=("a", range(0, 120))),
          threading.Thread(target=go, args=("b", range(60, 180)))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(50)
    assert out["a"] == list(range(0, 120)) and out["b"] == list(range(60, 180)), out
    assert nodes.count(log, "plus") == 180
    assert time.monotonic() - t0 < 40


# -- the indexer --------------------------------------------------------------------------
def _row(key: str, value: object) -> dict:
    head, payload, _ = encode(value)
    return {"key": key, "head": head, "record": {}, "payload": b"".join(payload)}


def test_close_while_the_indexer_lingers_still_indexes_what_it_holds(tmp_path) -> None:
    ix = Indexer(busy=lambda: True)  # always lingers
    cache = pl.Cache(str(tmp_path / "c"))
    a = ix.enqueue(cache, [Receipt("a" * 32, ok=True)], [_row("a" * 32, 1)])
    ix.close()  # while it sleeps through its linger
    b = ix.enqueue(cache, [Receipt("b" * 32, ok=True)], [_row("b" * 32, 2)])
    assert a.result(timeout=5)[0].stored and b.result(timeout=5)[0].stored
    assert cache.load("a" * 32) == 1 and cache.load("b" * 32) == 2
    ix.close()


def test_a_receipt_enqueued_as_the_thread_ends_after_close_is_still_indexed(tmp_path) -> None:
    """close() while the thread indexes, then one more receipt: it sat behind the stop
    marker and was never picked up (its run waited for ever)."""
    import threading

    ix = Indexer(busy=lambda: False)
    cache = pl.Cache(str(tmp_path / "c"))
    inside, release = threading.Event(), threading.Event()
    real = ix._index

    def slow_first(group):
        if not inside.is_set():
            inside.set()
            release.wait(5)
        return real(group)

    ix._index = slow_first
    a = ix.enqueue(cache, [Receipt("f" * 32, ok=True)], [_row("f" * 32, 6)])
    assert inside.wait(5)
    ix.close()  # the stop marker is queued while the thread works on a
    b = ix.enqueue(cache, [Receipt("0" * 32, ok=True)], [_row("0" * 32, 7)])
    release.set()
    assert a.result(timeout=5)[0].stored and b.result(timeout=5)[0].stored
    assert cache.load("0" * 32) == 7
    wait_until(lambda: ix._thread is None, timeout=5, what="the thread ended")
    c = ix.enqueue(cache, [Receipt("1" * 32, ok=True)], [_row("1" * 32, 8)])  # after its end
    assert c.result(timeout=5)[0].stored
    wait_until(lambda: ix._thread is None, timeout=5, what="the thread ended again")


def test_a_cancelled_run_future_is_left_alone_and_the_row_still_indexed(tmp_path) -> None:
    ix = Indexer(busy=lambda: False)
    cache = pl.Cache(str(tmp_path / "c"))
    run_future: cf.Future = cf.Future()
    assert run_future.cancel()
    back = ix.enqueue(cache, [Receipt("c" * 32, ok=True)], [_row("c" * 32, 3)],
                      into=run_future)
    assert back is run_future
    wait_until(lambda: cache.contains_many(["c" * 32]), timeout=5, what="the row indexed")
    assert cache.load("c" * 32) == 3 and run_future.cancelled()
    # the indexer thread survived: the next receipt is indexed too
    assert ix.enqueue(cache, [Receipt("d" * 32, ok=True)],
                      [_row("d" * 32, 4)]).result(timeout=5)[0].stored
    ix.close()


def test_a_deleted_cache_dir_hands_the_value_over_into_the_runs_future() -> None:
    d = tempfile.mkdtemp()
    cache = pl.Cache(d)
    shutil.rmtree(d)
    ix = Indexer()
    fut: cf.Future = cf.Future()
    ix.enqueue(cache, [Receipt("e" * 32, ok=True)], [_row("e" * 32, [5])], store=False,
               into=fut)
    (rc,) = fut.result(timeout=5)
    assert rc.ok and rc.has_value and rc.value == [5] and rc.stored is False
    assert "not cached" in rc.warning
    ix.close()


# -- engines and clients going away ------------------------------------------------------
def _pid_of_retried(log: str) -> int:
    pids = [int(p.name.rsplit("-", 1)[1]) for p in Path(log).glob("pid-retried-*")]
    return pids[-1] if len(pids) == 1 else 0


@pytest.mark.timeout(120)
def test_an_engine_killed_while_the_backlog_is_full(log, tmp_path) -> None:
    """EngineError through Sent with more one-per-task nodes than the window waiting:
    the lost node is retried, every other node computed once, nothing stalls."""
    import os
    import signal

    from pylearn_lab.backends.ipp import IPyParallelBackend

    gate = str(tmp_path / "gate")  # never created: the first attempt blocks until killed
    cache = pl.Cache(str(tmp_path / "c"))
    with IPyParallelBackend.start(n=2) as b:
        b.batch_cap = 1
        many = [nodes.plus(log, i, 5) for i in range(200)]
        handle = pl.run([nodes.retried(log, gate), *many], backend=b, cache=cache,
                        wait=False, progress=False, timeout=90)
        victim = wait_until(lambda: _pid_of_retried(log), what="retried() running")
        os.kill(victim, signal.SIGKILL)
        assert handle.result(timeout=80) == [7, *[i + 5 for i in range(200)]]
        assert nodes.count(log, "retried-start") == 2
        assert nodes.count(log, "plus") >= 200  # one may have died with its engine
        assert nodes.count(log, "plus") <= 201


@pytest.mark.timeout(60)
def test_a_client_closed_with_tasks_outstanding_ends_the_run(ipp_cluster, log, tmp_path) -> None:
    """The backend's own client closed under a run with tasks in flight and a backlog:
    the run ends with an error from the tree, not a hang, and frees its claims."""
    client = ipp_cluster.cluster.connect_client_sync()  # a second client of its own
    b = pl.IPyParallelBackend(client, owns_client=True, health_timeout=5.0)
    b.batch_cap = 1
    cache = pl.Cache(str(tmp_path / "c"))
    exprs = [napping(log, i, 0.2) for i in range(100)]
    handle = pl.run(exprs, backend=b, cache=cache, wait=False, progress=False)
    wait_until(lambda: nodes.count(log, "nap0") + nodes.count(log, "nap1") >= 1,
               timeout=30, what="a node running")
    b.stop()  # closes the client
    with pytest.raises(pl.errors.PylearnError):
        handle.result(timeout=40)
    # the claims were freed: a new run on the shared cluster computes everything at once
    other = pl.IPyParallelBackend.connect(client=ipp_cluster.client)
    try:
        t0 = time.monotonic()
        assert pl.run([napping(log, i, 0.0) for i in range(3)], backend=other, cache=cache,
                      progress=False, timeout=30) == [0, 1, 2]
        assert time.monotonic() - t0 < 25
    finally:
        other.stop()



@pytest.mark.timeout(90)
def test_a_run_timeout_with_the_backlog_full_then_the_same_run(backend, log, tmp_path) -> None:
    """run(timeout=) expiring with tasks on engines, queued at the controller and waiting
    in the VM's backlog; the same run again finishes promptly and no node is computed
    twice (those on engines at the timeout are stored and served, the rest were never
    started)."""
    cache = pl.Cache(str(tmp_path / "c"))
    exprs = [napping(log, i, 0.05) for i in range(150)]  # ~4 s on 2 engines
    with pytest.raises(pl.errors.PylearnError):
        pl.run(exprs, backend=backend, cache=cache, progress=False, timeout=1.0)
    t0 = time.monotonic()
    assert pl.run(exprs, backend=backend, cache=cache, progress=False, timeout=40) == list(
        range(150))
    assert time.monotonic() - t0 < 30  # no claim left to lapse
    counts = {i: nodes.count(log, f"nap{i}") for i in range(150)}
    twice = {i: c for i, c in counts.items() if c != 1}
    assert not twice, twice
