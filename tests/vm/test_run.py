"""The scheduling loop: hits and misses on every local backend, failures, events, handles."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import pytest

import pylearn_lab as pl
from pylearn_lab.errors import NodeError, RunCancelledError
from pylearn_lab.vm import Recorder

from vm_counting import count, double, explode, source, total


@pytest.mark.parametrize("backend", ["serial", "threads", "processes"])
def test_first_run_computes_second_run_hits(backend, log, cache):
    e = total(log, double(log, source(log)))
    assert pl.run(e, backend=backend, cache=cache) == 20.0
    assert count(log) == 3
    rec = Recorder()
    assert pl.run(e, backend=backend, cache=cache, callbacks=[rec]) == 20.0
    assert count(log) == 3  # nothing ran again
    assert rec.count("cached") == 3 and rec.count("done") == 0
    # a changed parameter recomputes only what depends on it
    e2 = total(log, double(log, source(log, n=6)))
    assert pl.run(e2, backend=backend, cache=cache) == 30.0
    assert count(log) == 6


@pytest.mark.parametrize("backend", ["serial", "threads", "processes"])
def test_only_the_missing_part_runs(backend, log, cache):
    s = source(log)
    pl.run(double(log, s), backend=backend, cache=cache)
    assert count(log) == 2
    pl.run(total(log, double(log, s)), backend=backend, cache=cache)
    assert count(log, "total") == 1 and count(log, "double") == 1 and count(log, "source") == 1


def test_results_in_order_and_shared_nodes_once(log, cache):
    s = source(log)
    out = pl.run([total(log, s), total(log, double(log, s)), total(log, s)], cache=cache)
    assert out == [10.0, 20.0, 10.0]
    assert count(log, "source") == 1 and count(log, "total") == 2


def test_failure_keeps_independent_branches_and_reruns_only_the_failed_part(log, cache, tmp_path):
    flag = tmp_path / "fail-now"
    flag.touch()
    s = source(log)
    bad = total(log, explode(log, double(log, s), flag=str(flag)))
    good = total(log, s)
    rec = Recorder()
    with pytest.raises(NodeError) as info:
        pl.run([bad, good], backend="threads", cache=cache, callbacks=[rec])
    err = info.value
    assert err.name.startswith("explode(") and err.key == explode(log, double(log, s), flag=str(flag)).key
    assert "ValueError" in err.cause_type and "boom on purpose" in str(err)
    assert "raise ValueError" in err.remote_traceback
    assert cache.contains(good) and cache.contains(double(log, s))
    assert rec.count("failed") == 1 and rec.count("skipped") == 1
    flag.unlink()
    before = {n: count(log, n) for n in ("source", "double", "total", "explode")}
    assert pl.run([bad, good], backend="threads", cache=cache) == [20.0, 10.0]
    assert count(log, "source") == before["source"] and count(log, "double") == before["double"]
    assert count(log, "explode") == before["explode"] + 1
    assert count(log, "total") == before["total"] + 1


def test_events_in_order(log, cache):
    rec = Recorder()
    e = double(log, source(log))
    pl.run(e, cache=cache, callbacks=[rec])
    assert rec.kinds(e.key) == ["queued", "started", "done"]
    assert rec.events[-1].kind == "finished"
    assert rec.events[-1].info["counts"]["done"] == 2


def test_a_failing_callback_does_not_break_the_run(log, cache):
    def bad(event):
        raise RuntimeError("observer bug")

    assert pl.run(total(log, source(log)), cache=cache, callbacks=[bad]) == 10.0


def test_records_describe_the_call(log, cache):
    e = double(log, source(log, n=3))
    pl.run(e, cache=cache)
    rec = cache.record(e)
    assert rec.func == "vm_counting.double" and rec.label == "double"
    assert rec.params == {"log": log} and rec.inputs == {"x": source(log, n=3).key}
    assert rec.duration >= 0 and rec.host and rec.created > 0
    assert cache.record(source(log, n=3)).params == {"log": log, "n": 3}


def test_wait_false_returns_a_handle_with_progress(log, cache, tmp_path):
    gate = tmp_path / "gate"

    @pl.component
    def slow(x):
        deadline = time.time() + 30
        while not gate.exists() and time.time() < deadline:
            time.sleep(0.01)
        return x + 1

    h = pl.run(slow(1), backend="threads", cache=cache, wait=False)
    assert isinstance(h, cf.Future) and not h.done()
    gate.touch()
    assert h.result(timeout=30) == 2
    assert h.progress["done"] == 1


def test_cancel_stops_the_run(cache, tmp_path):
    release = threading.Event()

    @pl.component
    def block(i: int):
        release.wait(10)
        return i

    h = pl.run([block(i) for i in range(6)], backend="threads", cache=cache, wait=False)
    time.sleep(0.2)
    assert h.cancel()
    release.set()
    with pytest.raises(RunCancelledError):
        h.result(timeout=10)


def test_cache_false_computes_every_time(log):
    e = total(log, source(log))
    pl.run(e, cache=False)
    pl.run(e, cache=False)
    assert count(log, "source") == 2


def test_run_rejects_non_expressions():
    with pytest.raises(TypeError, match="expected Expr"):
        pl.run([1, 2])
    with pytest.raises(TypeError, match="received int 3"):
        pl.run(3)
    with pytest.raises(TypeError, match="received str 'abc'"):
        pl.run("abc")


def test_uncacheable_component_runs_each_time_and_flows(log, cache):
    calls = []

    @pl.component(cache=False)
    def volatile(x):
        calls.append(1)
        return x + 1

    e = total(log, volatile(source(log)))
    assert pl.run(e, cache=cache) == 15.0
    assert not cache.contains(volatile(source(log))) and cache.contains(e)


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_an_input_lost_after_planning_is_recomputed_not_fatal(backend, log, cache):
    s = source(log, n=20000)  # large enough for a blob file
    pl.run(double(log, s), backend=backend, cache=cache)
    assert count(log, "source") == 1
    for blob in (cache.store.root / "blobs").glob("*/*"):
        blob.unlink()  # the index still lists them: planning says "cached"
    assert pl.run(total(log, double(log, s)), backend=backend, cache=cache) == 2 * float(sum(range(20000)))
    assert count(log, "source") == 2 and count(log, "double") == 2 and count(log, "total") == 1


def test_progress_bar_on_request_and_silent_for_quick_runs(log, cache, capsys):
    pl.run(total(log, source(log, n=3)), cache=cache)  # quick: the default bar waits a second
    assert "pylearn run" not in capsys.readouterr().err
    pl.run(total(log, source(log, n=4)), cache=cache, progress=True)
    err = capsys.readouterr().err
    assert "pylearn run" in err and "2/2" in err


def test_a_node_error_is_catchable_as_its_own_type(log, cache):
    from vm_counting import OddError, odd

    for backend in ("serial", "threads", "processes"):
        with pytest.raises(OddError) as info:  # not only NodeError: the user's own class
            pl.run(odd(log, source(log)), backend=backend, cache=cache)
        err = info.value
        assert isinstance(err, NodeError) and isinstance(err, ValueError)
        assert err.cause_type.endswith("OddError") and "odd on purpose (7)" in str(err)
        assert "in odd" in err.remote_traceback and "OddError" in err.remote_traceback
    with pytest.raises(ValueError):
        pl.run(explode(log, source(log)), cache=cache)


def test_a_failed_run_gives_the_outputs_that_finished(log, cache):
    good, other = total(log, source(log)), total(log, double(log, source(log)))
    bad = explode(log, source(log))
    with pytest.raises(NodeError) as info:
        pl.run([good, bad, other], cache=cache)
    assert info.value.partial == {good.key: 10.0, other.key: 20.0}
    assert bad.key not in info.value.partial
    # served from the cache in a second failing run: still there, nothing recomputed
    n = count(log)
    with pytest.raises(NodeError) as info:
        pl.run([good, bad], cache=cache)
    assert info.value.partial == {good.key: 10.0}
    assert count(log) == n + 1  # only explode ran again


def test_progress_counts_add_up_after_a_failure(log, cache):
    h = pl.run([total(log, explode(log, source(log))), total(log, source(log))], cache=cache,
               wait=False)
    with pytest.raises(NodeError):
        h.result(timeout=30)
    p = h.progress
    assert p == {"total": 4, "cached": 0, "done": 2, "failed": 1, "skipped": 1, "running": 0,
                 "queued": 0}
