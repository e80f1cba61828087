"""call(): a future at once; hits resolve without any backend work; errors at the call."""

from __future__ import annotations

import concurrent.futures as cf
import threading

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.errors import UnhashableError, UnpicklableError


class CountingBackend:
    """A backend that counts what it is asked to run."""

    in_process = True

    def __init__(self):
        self.submitted = 0
        self.pool = cf.ThreadPoolExecutor(1)

    def submit(self, fn, *args, **kwargs):
        self.submitted += 1
        return self.pool.submit(fn, *args, **kwargs)


def add(a, b=1):
    return a + b


def test_call_returns_a_future_and_caches(tmp_path):
    c = pl.Cache(tmp_path)
    backend = CountingBackend()
    fut = pl.call(add, (1,), {"b": 2}, backend=backend, cache=c)
    assert isinstance(fut, cf.Future)
    assert fut.result(timeout=10) == 3 and backend.submitted == 1
    hit = pl.call(add, (1, 2), backend=backend, cache=c)  # same call, bound the same way
    assert hit.done() and hit.result() == 3
    assert backend.submitted == 1  # no backend work on a hit


def test_hit_needs_no_backend_at_all(tmp_path):
    c = pl.Cache(tmp_path)
    pl.call(add, (5,), cache=c).result()
    # "ipyparallel" with no cluster would raise if it were resolved: a hit never resolves it
    assert pl.call(add, (5,), backend="ipyparallel", cache=c).result() == 6


def test_lambdas_and_arrays(tmp_path):
    c = pl.Cache(tmp_path)
    a = np.arange(4.0)
    assert pl.call(lambda x: float(x.sum()), (a,), cache=c).result() == 6.0


def test_errors_name_the_argument_at_the_call(tmp_path):
    class Opaque:  # plain instances are keyed by class and state; a bare object() has none
        def __init__(self):
            self.sentinel = object()

    with pytest.raises(UnhashableError, match="argument 'b' of add"):
        pl.call(add, (1,), {"b": Opaque()}, cache=False)
    lock = threading.Lock()
    with pytest.raises(UnpicklableError, match=r"argument 0 of add\(\) of type _thread.lock"):
        pl.call(add, (lock,), cache=False)
    with pytest.raises(TypeError, match="tuple or list"):
        pl.call(add, 1, cache=False)


def test_a_hit_future_behaves_like_any_finished_future(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    pl.call(_double_for_hit, (4,), cache=cache).result()
    futs = [pl.call(_double_for_hit, (4,), cache=cache) for _ in range(3)]
    assert all(isinstance(f, cf.Future) and f.done() and not f.running() for f in futs)
    assert [f.result(timeout=0) for f in futs] == [8, 8, 8] and futs[0].exception() is None
    done, pending = cf.wait(futs, timeout=1)
    assert len(done) == 3 and not pending
    assert [f.result() for f in cf.as_completed(futs, timeout=1)] == [8, 8, 8]
    seen: list[int] = []
    futs[0].add_done_callback(lambda f: seen.append(f.result()))
    assert seen == [8]  # called at once: it is done
    assert not futs[1].cancel()
    with pytest.raises(cf.InvalidStateError):
        futs[2].set_result(0)
    # threads waiting on hit futures at the same time (they share one re-entrant lock)
    out: list[int] = []
    ts = [threading.Thread(target=lambda: out.extend(f.result() for f in cf.as_completed(futs)))
          for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(5)
    assert out == [8] * 12


def _double_for_hit(x: int) -> int:
    return 2 * x


def test_a_hit_future_waited_on_with_a_pending_one(tmp_path):
    # wait() installs its waiter on every future, the resolved ones too (per-instance
    # lists), and removes it after; result() reads the value without the shared lock
    cache = pl.Cache(tmp_path / "c")
    pl.call(_double_for_hit, (5,), cache=cache).result()
    hit = pl.call(_double_for_hit, (5,), cache=cache)
    other = pl.call(_double_for_hit, (5,), cache=cache)
    pending: cf.Future = cf.Future()
    timer = threading.Timer(0.2, lambda: pending.set_result("late"))
    timer.start()
    done, not_done = cf.wait([hit, pending], return_when=cf.ALL_COMPLETED, timeout=10)
    timer.join()
    assert done == {hit, pending} and not not_done
    assert hit._waiters == [] and other._waiters == [] and hit._waiters is not other._waiters
    assert hit.result() == 10 and hit.result(timeout=0) == 10 and hit.exception(timeout=0) is None
    with pytest.raises(cf.InvalidStateError):
        hit.set_exception(RuntimeError("no"))
    assert hit.result() == 10 and hit.done() and not hit.cancelled()
    cache.close()
