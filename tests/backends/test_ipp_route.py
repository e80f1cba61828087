"""Routing one task at a time (``backends/ipp/route.py``): straight to an engine only
when waiting there cannot cost much, and never at the expense of a result.

The unit tests pin the router's rules; the cluster tests check, on the shared
real cluster, that known-tiny functions take the engines' own queues, that
everything else still goes through ipyparallel's scheduler, that each node is
computed once either way, and that a tiny task never waits behind one of our
own long ones. Engine deaths with tasks queued on an engine are in
``test_ipp_faults.py``.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace as NS

import ipp_nodes as nodes
import pytest
from cluster_fixtures import wait_until

import pylearn_lab as pl
from pylearn_lab.backends.ipp import send
from pylearn_lab.backends.ipp.batch import TINY, NodeTimes
from pylearn_lab.backends.ipp.route import Router


# -- the rules, without a cluster ----------------------------------------------------------
def test_a_task_goes_direct_only_when_known_tiny_untimed_and_nothing_balanced_is_out() -> None:
    r = Router(depth_cap=lambda: 16)
    assert r.pick([0, 1], mean=None, timeout=None) is None  # not known to be tiny
    assert r.pick([0, 1], mean=1e-4, timeout=5.0) is None  # a timeout: the scheduler
    assert r.pick([], mean=1e-4, timeout=None) is None  # no engine to choose
    assert r.pick([0, 1], mean=1e-4, timeout=None) == 0
    r.sent(None)  # one of ours is load-balanced: a tiny task could queue behind it
    assert r.pick([0, 1], mean=1e-4, timeout=None) is None
    r.done(None)
    assert r.pick([0, 1], mean=1e-4, timeout=None) == 0


def test_balanced_tasks_of_functions_known_tiny_do_not_hold_direct_sends_back() -> None:
    known = {"m.tiny"}
    r = Router(depth_cap=lambda: 16, known_tiny=lambda name: name in known)
    r.sent(None, {"m.tiny"})  # sent before its function was known to be tiny
    assert r.pick([0, 1], mean=1e-4, timeout=None) == 0
    r.sent(None, {"m.tiny", "m.new"})  # a batch with a function never timed
    assert r.pick([0, 1], mean=1e-4, timeout=None) is None
    known.add("m.new")
    assert r.pick([0, 1], mean=1e-4, timeout=None) == 0
    known.discard("m.tiny")  # it turned slow: its outstanding tasks may be long now
    assert r.pick([0, 1], mean=1e-4, timeout=None) is None
    r.done(None, {"m.tiny"})
    r.done(None, {"m.tiny", "m.new"})
    assert r.outstanding == (0, 0) and r.pick([0, 1], mean=1e-4, timeout=None) == 0
    r.sent(None, ())  # a plain submit(): no function known, so of unknown length
    assert r.pick([0, 1], mean=1e-4, timeout=None) is None


def test_engines_fill_evenly_up_to_their_depth_then_the_scheduler_takes_over() -> None:
    r = Router(depth_cap=lambda: 4)
    picks = []
    for _ in range(8):
        e = r.pick([3, 5], mean=1e-5, timeout=None)
        picks.append(e)
        r.sent(e)
    assert sorted(picks) == [3, 3, 3, 3, 5, 5, 5, 5]
    assert r.pick([3, 5], mean=1e-5, timeout=None) is None  # both at the cap
    assert r.outstanding == (8, 0)
    r.done(5)
    assert r.pick([3, 5], mean=1e-5, timeout=None) == 5


def test_the_depth_holds_about_the_budget_of_work_at_least_two_at_most_the_cap() -> None:
    r = Router(depth_cap=lambda: 32)
    assert r.depth(1e-6) == 32  # microseconds: the cap
    assert r.depth(0.01) == 5  # 50 ms of queued work
    assert r.depth(TINY) == 2  # one running, one queued
    assert r.depth(0.0) == 32


def test_counts_never_go_below_zero_whatever_order_the_ends_come_in() -> None:
    r = Router(depth_cap=lambda: 2)
    r.done(0)
    r.done(None)
    assert r.outstanding == (0, 0)
    threads = [threading.Thread(target=lambda: [r.sent(1) or r.done(1) for _ in range(500)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert r.outstanding == (0, 0)


def test_tiny_mean_needs_three_timings_of_every_function_of_the_task() -> None:
    times = NodeTimes()
    times.expect([NS(call=NS(key="a", func=len)), NS(call=NS(key="b", func=abs))])
    assert times.tiny_mean(["a"]) is None  # never timed
    for _ in range(2):
        times.observe("builtins.len", 1e-3)
    assert times.tiny_mean(["a"]) is None  # twice is not enough to trust
    times.observe("builtins.len", 1e-3)
    assert times.tiny_mean(["a"]) == pytest.approx(1e-3)
    assert times.tiny_mean(["a", "b"]) is None  # abs is unknown
    for _ in range(3):
        times.observe("builtins.abs", 2 * TINY)
    assert times.tiny_mean(["b"]) is None  # slow
    assert times.tiny_mean([]) is None and times.tiny_mean(["gone"]) is None


# -- on the shared cluster ---------------------------------------------------------------
@pytest.fixture
def routed(ipp_cluster, monkeypatch):
    """A backend on the shared cluster (its timings start empty) that records each send:
    ``("direct", engine)`` or ``("balanced", None)``."""
    backend = pl.IPyParallelBackend.connect(client=ipp_cluster.client)
    backend.batch_cap = 1
    sends: list[tuple[str, int | None]] = []
    engine_sender = backend._jobs._engine_sender
    real_direct, real_balanced = engine_sender.send, send.Sender.send

    def direct(engine, *args):
        sends.append(("direct", engine))
        return real_direct(engine, *args)

    def balanced(self, *args):
        sends.append(("balanced", None))
        return real_balanced(self, *args)

    monkeypatch.setattr(engine_sender, "send", direct)
    monkeypatch.setattr(send.Sender, "send", balanced)
    backend.sends = sends
    try:
        yield backend
    finally:
        backend.stop()


def _run(exprs, backend, cache, **kw):
    return pl.run(exprs, backend=backend, cache=cache, progress=False, timeout=120, **kw)


@pytest.mark.cluster
@pytest.mark.timeout(180)
def test_known_tiny_functions_go_to_the_engines_queues_each_node_once(routed, tmp_path) -> None:
    log = tmp_path / "log"
    log.mkdir()
    cache = pl.Cache(str(tmp_path / "c"))
    assert routed._jobs._engine_sender.available
    assert _run([nodes.plus(str(log), i, 1) for i in range(6)], routed, cache) == [
        i + 1 for i in range(6)]
    assert routed.sends == [("balanced", None)] * 6  # never timed yet: the scheduler
    routed.sends.clear()
    exprs = [nodes.plus(str(log), i, 100) for i in range(40)]
    assert _run(exprs, routed, cache) == [i + 100 for i in range(40)]
    assert [how for how, _ in routed.sends] == ["direct"] * 40
    assert {e for _, e in routed.sends} == set(routed.client.ids)  # both engines took some
    assert nodes.count(str(log), "plus") == 46
    routed.sends.clear()
    assert _run(exprs, routed, cache) == [i + 100 for i in range(40)]
    assert routed.sends == [] and nodes.count(str(log), "plus") == 46  # hits: nothing sent
    assert routed._jobs.router.outstanding == (0, 0)


@pytest.mark.cluster
@pytest.mark.timeout(180)
def test_a_first_sweep_of_a_new_function_moves_to_the_engines_queues_once_timed(
        routed, tmp_path) -> None:
    """A function never timed starts load-balanced; once three receipts say it is tiny,
    the rest of the same run goes direct (the balanced tasks already out are of a
    function now known tiny, so they hold nothing back)."""
    log = tmp_path / "log"
    log.mkdir()
    cache = pl.Cache(str(tmp_path / "c"))
    exprs = [nodes.plus(str(log), i, 3) for i in range(300)]
    assert _run(exprs, routed, cache) == [i + 3 for i in range(300)]
    hows = [how for how, _ in routed.sends]
    assert hows[0] == "balanced" and hows.count("direct") > 150, hows.count("direct")
    assert len(hows) == 300 and nodes.count(str(log), "plus") == 300


@pytest.mark.cluster
@pytest.mark.timeout(180)
def test_slow_functions_and_routing_balanced_keep_ipyparallels_scheduler(routed,
                                                                          tmp_path) -> None:
    cache = pl.Cache(str(tmp_path / "c"))
    assert _run([nodes.slowish(i) for i in range(4)], routed, cache) == [0, 1, 2, 3]
    assert _run([nodes.slowish(i) for i in range(4, 8)], routed, cache) == [4, 5, 6, 7]
    assert {how for how, _ in routed.sends} == {"balanced"}  # 50 ms each: not tiny
    routed.sends.clear()
    for base in (0, 10, 20):  # now known to be tiny ...
        _run([nodes.tiny(base + i) for i in range(4)], routed, cache)
    routed.routing = "balanced"  # ... but the user asked for the scheduler
    routed.sends.clear()
    assert _run([nodes.tiny(100 + i) for i in range(6)], routed, cache) == [
        (100 + i) ** 2 + 1 for i in range(6)]
    assert routed.sends == [("balanced", None)] * 6


@pytest.mark.cluster
@pytest.mark.timeout(180)
def test_batches_of_known_tiny_nodes_keep_the_schedulers_late_binding(routed,
                                                                       tmp_path) -> None:
    """A batch already pays the scheduler once for many nodes; its late binding balances
    the batches' unequal lengths (P12 was slower with batches sent direct)."""
    log = tmp_path / "log"
    log.mkdir()
    cache = pl.Cache(str(tmp_path / "c"))
    for base in (0, 10, 20):
        _run([nodes.plus(str(log), base + i, 0) for i in range(4)], routed, cache)
    routed.sends.clear()
    routed.batch_cap = 256
    exprs = [nodes.plus(str(log), i, 900) for i in range(200)]
    assert _run(exprs, routed, cache) == [i + 900 for i in range(200)]
    assert routed.sends and {how for how, _ in routed.sends} == {"balanced"}
    assert len(routed.sends) < 200  # batched: fewer tasks than nodes
    assert nodes.count(str(log), "plus") == 12 + 200


@pytest.mark.cluster
@pytest.mark.parametrize("bad", ["Auto", "direct", None, 1])
def test_a_bad_routing_is_refused_at_the_run_naming_the_choices(ipp_cluster, bad) -> None:
    backend = pl.IPyParallelBackend.connect(client=ipp_cluster.client)
    try:
        backend.routing = bad
        with pytest.raises(pl.errors.OptionError, match=r"routing must be one of \('auto', "
                                                        r"'balanced'\)"):
            pl.run(nodes.tiny(3), backend=backend, cache=False, progress=False)
    finally:
        backend.stop()


@pytest.mark.cluster
@pytest.mark.timeout(180)
def test_a_tiny_task_never_waits_behind_one_of_our_long_ones(routed, tmp_path) -> None:
    """A long node of a function never timed goes load-balanced and holds an engine; 40
    known-tiny nodes of the same run must all finish while it still holds it (queued
    behind it on its engine, they would wait until the test opens the gate)."""
    log, gate = tmp_path / "log", tmp_path / "gate"
    log.mkdir()
    cache = pl.Cache(str(tmp_path / "c"))
    for base in (0, 10, 20):
        _run([nodes.plus(str(log), base + i, 0) for i in range(4)], routed, cache)
    before = nodes.count(str(log), "plus")
    exprs = [nodes.gated(str(log), 0, str(gate))] + [nodes.plus(str(log), i, 500)
                                                       for i in range(40)]
    handle = _run(exprs, routed, cache, wait=False)
    try:
        wait_until(lambda: nodes.count(str(log), "plus") == before + 40, timeout=60,
                   what="the 40 tiny nodes done while the long one still runs")
        assert nodes.count(str(log), "done0") == 0  # the long one is still holding its engine
    finally:
        gate.touch()
    assert handle.result(timeout=60) == [0] + [i + 500 for i in range(40)]
    assert nodes.count(str(log), "start0") == 1
