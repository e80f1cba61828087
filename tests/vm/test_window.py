"""The backend's window (``Capabilities.max_pending``): claimed nodes wait in the
VM's backlog and go out only as earlier submissions finish.

The backend is a real thread pool whose tasks make a cloudpickle round trip, as a
cluster's would; it records how many of its futures were outstanding at most, and
nodes count their calls in files.
"""

from __future__ import annotations

import time

import pytest
import vm_counting as vc

import pylearn_lab as pl
from pylearn_lab.backends.capabilities import Capabilities
from pylearn_lab.errors import BackendError


@pl.component
def step(log: str, i: int) -> int:
    vc._mark(log, "step")
    time.sleep(0.002)  # long enough that a window of 3 is full while the VM submits
    return i * 2


@pl.component
def total(log: str, *xs: int) -> int:
    vc._mark(log, "total")
    return sum(xs)


def test_no_more_than_the_window_is_outstanding_and_every_node_runs_once(windowed, log,
                                                                          cache) -> None:
    b = windowed(3)
    parts = [step(log, i) for i in range(40)]
    assert pl.run([total(log, *parts), *parts[:2]], backend=b, cache=cache,
                  progress=False) == [sum(2 * i for i in range(40)), 0, 2]
    assert b.most == 3 and b.sent == 41  # one task per node (no batching reported)
    assert vc.count(log, "step") == 40 and vc.count(log, "total") == 1
    # and all hits the second time: nothing sent
    again = windowed(3)
    assert pl.run(total(log, *parts), backend=again, cache=cache, progress=False) == 1560
    assert again.sent == 0 and vc.count(log, "step") == 40


def test_without_a_window_everything_ready_goes_at_once(windowed, log, cache) -> None:
    b = windowed(None)
    assert pl.run([step(log, i) for i in range(30)], backend=b, cache=cache,
                  progress=False) == [2 * i for i in range(30)]
    assert b.most > 3 and b.sent == 30


def test_cancelling_a_windowed_run_releases_the_nodes_not_sent(windowed, log, cache) -> None:
    b = windowed(2)
    handle = pl.run([step(log, 100 + i) for i in range(200)], backend=b, cache=cache,
                    progress=False, wait=False)
    time.sleep(0.05)
    handle.cancel()
    with pytest.raises(pl.errors.RunCancelledError):
        handle.result()
    assert vc.count(log, "step") < 200  # the backlog was never sent
    # its claims were released (a run now would otherwise wait out the claim TTL): the
    # next run computes the rest at once, and every node ran exactly once in all
    b2 = windowed(2)
    assert pl.run([step(log, 100 + i) for i in range(200)], backend=b2, cache=cache,
                  progress=False, timeout=20) == [2 * (100 + i) for i in range(200)]
    assert vc.count(log, "step") == 200 and b2.most == 2


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "8"])
def test_a_bad_window_is_refused_with_the_rule(bad) -> None:
    with pytest.raises(BackendError, match=r"max_pending=\) must be a number of submissions"):
        Capabilities(max_pending=bad)


def test_a_backlog_node_no_longer_ready_is_not_sent(windowed, log) -> None:
    """A node skipped (or sent back to wait) while it sat in the backlog stays unsent."""
    from pylearn_lab.vm.plan import make_plan
    from pylearn_lab.vm.scheduler import Scheduler
    from pylearn_lab.vm.state import NodeState
    from pylearn_lab.vm.submit import Submitter

    b = windowed(1)
    exprs = [step(log, 300 + i) for i in range(3)]
    sched = Scheduler(make_plan(exprs, cache=None))
    sub = Submitter(sched, b, cache=None)
    inflight: dict = {}
    keys = sched.take_ready()
    sub.submit(keys, inflight)  # the first goes, two wait (window of one)
    assert len(inflight) == 1 and list(sub.backlog) == keys[1:]
    sched.state[keys[1]] = NodeState.SKIPPED  # as _skip_users marks it
    next(iter(inflight)).result(timeout=10)
    inflight.clear()
    sub.pump(inflight)
    assert [k for ks in inflight.values() for k in ks] == [keys[2]] and not sub.backlog
    next(iter(inflight)).result(timeout=10)
    assert vc.count(log, "step") == 2  # the skipped node never ran
