"""The run's state object: transitions and counts, event by event, without a backend."""

from __future__ import annotations

import pytest

import pylearn_lab as pl
from pylearn_lab.errors import NodeError, Status
from pylearn_lab.vm import Recorder
from pylearn_lab.vm.plan import make_plan
from pylearn_lab.vm.scheduler import Scheduler
from pylearn_lab.vm.state import Counts, NodeState


@pl.component
def leaf(i: int) -> int:
    return i


@pl.component
def add(a: int, b: int) -> int:
    return a + b


def _consistent(s: Scheduler) -> None:
    c = s.counts
    unneeded = sum(st is NodeState.UNNEEDED for st in s.state.values())
    assert c.total == c.cached + c.done + c.failed + c.skipped + c.running + c.queued + unneeded
    assert c.running == sum(st is NodeState.RUNNING for st in s.state.values())


def _diamond():
    a, b = leaf(1), leaf(2)
    return add(add(a, b), add(b, 3))


def test_counts_are_a_dataclass_not_a_dict():
    c = Counts()
    with pytest.raises(AttributeError):
        c.finishd = 1  # slots: a misspelt count cannot appear silently
    assert set(c.as_dict()) == {"total", "cached", "done", "failed", "skipped", "running",
                                "queued"}


def test_nodes_become_ready_only_when_every_input_is_done():
    a, b = leaf(1), leaf(2)
    top = add(add(a, b), add(b, 3))
    s = Scheduler(make_plan([top], cache=None))
    assert set(s.take_ready()) == {a.key, b.key}
    s.on_submitted([a.key, b.key])
    _consistent(s)
    s.on_done(a.key, 1, True)
    assert s.take_ready() == []  # both adds still need b
    s.on_done(b.key, 2, True)
    mids = s.take_ready()
    assert set(mids) == {add(a, b).key, add(b, 3).key}
    s.on_submitted(mids)
    s.on_done(mids[0], 3, True)
    assert s.take_ready() == []
    s.on_done(mids[1], 5, True)
    assert s.take_ready() == [top.key]
    s.on_submitted([top.key])
    s.on_done(top.key, 8, True)
    _consistent(s)
    assert s.counts.done == 5 and s.partial() == {top.key: 8}
    assert not list(s.unfinished())


def test_a_failure_skips_exactly_its_downstream():
    a, b = leaf(1), leaf(2)
    bad, good = add(a, 0), add(b, 0)
    top = add(bad, 1)
    rec = Recorder()
    s = Scheduler(make_plan([top, good], cache=None), [rec])
    ready = s.take_ready()
    s.on_submitted(ready)
    for k in ready:
        s.on_done(k, 1, True)
    nxt = s.take_ready()
    s.on_submitted(nxt)
    err = NodeError.of("add", bad.key, "builtins.ValueError", "no")
    s.on_failed(bad.key, err, error="no")
    s.on_done(good.key, 2, True)
    assert s.state[top.key] is NodeState.SKIPPED and s.state[good.key] is NodeState.DONE
    assert s.counts.skipped == 1 and s.counts.failed == 1 and s.errors == [err]
    assert rec.count("skipped") == 1
    assert s.partial() == {good.key: 2}
    _consistent(s)


def test_a_lost_input_is_recomputed_with_its_upstream(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    mid = add(leaf(1), leaf(2))
    pl.run(mid, cache=cache)
    cache.invalidate(leaf(1))
    cache.invalidate(leaf(2))
    top = add(mid, 10)
    s = Scheduler(make_plan([top], cache=cache))
    assert s.state[mid.key] is NodeState.CACHED and s.state[leaf(1).key] is NodeState.UNNEEDED
    (k,) = s.take_ready()
    assert k == top.key
    s.on_submitted([k])
    s.on_input_lost(mid.key, top.key, running=True)  # the worker could not load it
    _consistent(s)
    assert s.state[mid.key] is NodeState.WAITING and s.state[top.key] is NodeState.WAITING
    assert sorted(s.label(x) for x in s.take_ready()) == ["leaf", "leaf"]
    assert s.counts.cached == 0 and s.counts.queued == 4


def test_event_kinds_are_status_members_equal_to_their_strings(tmp_path):
    rec = Recorder()
    pl.run(add(leaf(1), 2), cache=False, callbacks=[rec])
    assert all(isinstance(e.kind, Status) for e in rec.events)
    assert rec.kinds() == ["queued", "queued", "started", "done", "started", "done", "finished"]
