"""The conformance suite every backend must pass (a dask-style mixin).

A backend's test module subclasses :class:`BackendConformance` and provides a
``backend`` fixture (yielding the backend object, or a name ``run()`` resolves)::

    class TestThreads(BackendConformance):
        @pytest.fixture
        def backend(self):
            yield "threads"

Every test runs real work through the one public path (``pl.run``) and proves
hits and misses by counting calls in files, which works whatever process the
function ran in. The node functions live in ``conformance_nodes`` so that worker
processes and engines can import them.
"""

from __future__ import annotations

import concurrent.futures as cf
import operator
from pathlib import Path
from typing import Any

import conformance_nodes as n
import pytest

import pylearn_lab as pl
from pylearn_lab.errors import NodeError
from pylearn_lab.vm import Recorder

__all__ = ["BackendConformance"]


class BackendConformance:
    """Mixin: the behaviours every backend shares with every other."""

    @pytest.fixture
    def backend(self) -> Any:  # overridden by each subclass
        raise NotImplementedError("a BackendConformance subclass must define a backend fixture")

    @pytest.fixture
    def log(self, tmp_path: Path) -> str:
        d = tmp_path / "calls"
        d.mkdir()
        return str(d)

    @pytest.fixture
    def cache(self, tmp_path: Path) -> pl.Cache:
        return pl.Cache(tmp_path / "cache")

    # -- the contract: submit(fn, *args) -> Future -------------------------------------
    def test_submit_returns_a_future_of_the_call(self, backend: Any) -> None:
        from pylearn_lab.backends.registry import resolve_backend

        b = resolve_backend(backend)
        fut = b.submit(operator.add, 2, 3)
        assert isinstance(fut, cf.Future)
        assert fut.result(timeout=60) == 5

    # -- what it reports: backends/capabilities.py ----------------------------------------
    def test_capabilities_are_one_frozen_report(self, backend: Any) -> None:
        import dataclasses

        from pylearn_lab.backends.capabilities import Capabilities, TaskPlane, capabilities_of
        from pylearn_lab.backends.registry import resolve_backend

        caps = capabilities_of(resolve_backend(backend))
        assert isinstance(caps, Capabilities)
        with pytest.raises(dataclasses.FrozenInstanceError):
            caps.workers = 99  # type: ignore[misc]
        assert isinstance(caps.in_process, bool) and isinstance(caps.pickles_by_value, bool)
        assert isinstance(caps.workers, int) and caps.workers >= 0
        if caps.batch_hint is not None:
            assert all(int(caps.batch_hint(k)) >= 1 for k in (0, 1, 7, 20_000))
        if caps.in_process:  # live values: nothing to plan for travel
            assert caps.task_plane is None and caps.pickles_by_value
        if caps.task_plane is not None:
            assert isinstance(caps.task_plane, TaskPlane)
        # a window, when there is one, leaves room for every worker (a smaller one idles them)
        assert caps.max_pending is None or caps.max_pending >= max(1, caps.workers)
        # a plain process pool pickles with the standard library: the VM must cloudpickle
        assert caps.pickles_by_value == (not isinstance(backend, cf.ProcessPoolExecutor))

    def test_an_argument_that_cannot_travel_fails_its_node_not_the_run(
            self, backend: Any, log: str, cache: pl.Cache) -> None:
        from pylearn_lab.backends.capabilities import capabilities_of
        from pylearn_lab.backends.registry import resolve_backend

        bad, good = n.tag_of(log, n.Unpicklable("lock-like")), n.inc(1)
        if capabilities_of(resolve_backend(backend)).in_process:  # nothing is pickled
            assert pl.run([bad, good], backend=backend, cache=False) == ["lock-like", 2]
            return
        with pytest.raises(NodeError) as info:
            pl.run([bad, good], backend=backend, cache=cache)
        err = info.value
        assert err.key == bad.key and isinstance(err, TypeError)
        assert "cannot be pickled" in str(err) and "refuses to be pickled" in str(err)
        assert err.partial == {good.key: 2} and cache.contains(good) and not cache.contains(bad)
        assert n.count(log, "tag_of") == 0  # it never ran anywhere

    # -- caching through the backend -----------------------------------------------------
    def test_first_run_computes_and_a_rerun_sends_nothing(self, backend: Any, log: str,
                                                          cache: pl.Cache) -> None:
        e = n.total(log, n.scaled(log, n.numbers(log, 6), 3.0))
        assert pl.run(e, backend=backend, cache=cache) == 45.0
        assert n.count(log) == 3
        rec = Recorder()
        assert pl.run(e, backend=backend, cache=cache, callbacks=[rec]) == 45.0
        assert n.count(log) == 3
        assert rec.count("started") == 0 and rec.count("cached") == 3
        # a changed parameter recomputes exactly what depends on it
        assert pl.run(n.total(log, n.scaled(log, n.numbers(log, 6), 1.0)), backend=backend,
                      cache=cache) == 15.0
        assert n.count(log, "numbers") == 1 and n.count(log, "scaled") == 2

    def test_values_come_back_in_order_with_shared_nodes_once(self, backend: Any, log: str,
                                                             cache: pl.Cache) -> None:
        base = n.numbers(log, 4)
        outs = [n.total(log, n.scaled(log, base, float(f))) for f in range(5)]
        assert pl.run(outs, backend=backend, cache=cache) == [0.0, 6.0, 12.0, 18.0, 24.0]
        assert n.count(log, "numbers") == 1

    def test_without_a_cache_everything_runs_every_time(self, backend: Any, log: str) -> None:
        e = n.total(log, n.numbers(log, 3))
        assert pl.run(e, backend=backend, cache=False) == 3.0
        assert pl.run(e, backend=backend, cache=False) == 3.0
        assert n.count(log) == 4

    def test_many_tiny_nodes(self, backend: Any, log: str, cache: pl.Cache) -> None:
        outs = [n.inc(i) for i in range(60)]
        assert pl.run(outs, backend=backend, cache=cache) == list(range(1, 61))
        assert pl.run(outs, backend=backend, cache=cache) == list(range(1, 61))

    # -- failures ------------------------------------------------------------------------
    def test_a_failure_stays_in_its_branch_and_keeps_its_type(self, backend: Any, log: str,
                                                              cache: pl.Cache) -> None:
        good = n.total(log, n.numbers(log, 5))
        bad = n.total(log, n.fails(log, n.numbers(log, 5)))
        rec = Recorder()
        with pytest.raises(n.ConformanceError) as info:
            pl.run([bad, good], backend=backend, cache=cache, callbacks=[rec])
        err = info.value
        assert isinstance(err, NodeError) and isinstance(err, ValueError)
        assert err.key == n.fails(log, n.numbers(log, 5)).key
        assert "fails on purpose" in str(err) and "fails" in err.remote_traceback
        assert err.partial == {good.key: 10.0}
        assert cache.contains(good) and not cache.contains(bad)
        assert rec.count("failed") == 1 and rec.count("skipped") == 1
        # run again: only the failed branch is attempted again
        before = n.count(log)
        with pytest.raises(NodeError):
            pl.run([bad, good], backend=backend, cache=cache)
        assert n.count(log) == before + 1

    def test_an_input_lost_after_planning_is_recomputed(self, backend: Any, log: str,
                                                         cache: pl.Cache) -> None:
        mid = n.scaled(log, n.numbers(log, 4), 2.0)
        pl.run(mid, backend=backend, cache=cache)
        cache.invalidate(mid)
        cache.invalidate(n.numbers(log, 4))
        assert pl.run(n.total(log, mid), backend=backend, cache=cache) == 12.0
        assert n.count(log, "numbers") == 2 and n.count(log, "scaled") == 2

    # -- asynchronous runs ---------------------------------------------------------------
    def test_wait_false_gives_a_handle_with_progress(self, backend: Any, log: str,
                                                     cache: pl.Cache) -> None:
        h = pl.run([n.total(log, n.numbers(log, 3)), n.inc(1)], backend=backend, cache=cache,
                   wait=False)
        assert h.result(timeout=60) == [3.0, 2]
        p = h.progress
        assert p["done"] == 3 and p["running"] == 0 and p["queued"] == 0 and p["total"] == 3
