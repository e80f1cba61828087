"""The VM decides from the backend's Capabilities: batch size, grouping, data plane, receipts.

The backend here is real (a thread pool whose tasks make a cloudpickle round trip,
as a cluster's would); the VM's decisions are seen at its task plane, and nodes
count their calls in files.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from typing import Any

import cloudpickle
import pytest
import vm_counting as vc

import pylearn_lab as pl
from pylearn_lab.backends import Backend
from pylearn_lab.backends.capabilities import Capabilities, TaskPlane, capabilities_of
from pylearn_lab.errors import BackendError, NodeError, UnpicklableError
from pylearn_lab.vm.task import execute, execute_batch


@pl.component
def tiny(log: str, i: int) -> int:
    vc._mark(log, "tiny")
    return i + 1


@pl.component
def slow(log: str, i: int) -> int:
    vc._mark(log, "slow")
    return -i


@pl.component
def tag(log: str, obj: object) -> str:
    vc._mark(log, "tag")
    return type(obj).__name__


@pl.component(timeout=30.0)
def limited(log: str, i: int) -> int:
    vc._mark(log, "limited")
    return 10 * i


class RecordingPlane:
    """A task plane that pickles each group as a cluster would and runs it on a pool."""

    def __init__(self, owner: PlaneBackend) -> None:
        self.owner = owner
        self.groups: list[list[str]] = []
        self.asked: list[Any] = []

    def sees_store(self, cache: Any) -> bool:
        self.asked.append(cache)
        return self.owner.sees

    def submit_tasks(self, tasks: list[Any]) -> cf.Future:
        self.groups.append([t.call.label.split("(")[0] for t in tasks])
        if any(getattr(a, "refuse", False) for t in tasks for a in t.call.args):
            raise UnpicklableError("the task", tasks, TypeError("this group refuses to travel"))
        fn, arg = (execute_batch, tasks) if len(tasks) > 1 else (execute, tasks[0])
        payload = cloudpickle.dumps((fn, arg))  # values travel: no live objects shared

        def on_worker() -> Any:
            f, a = cloudpickle.loads(payload)
            return cloudpickle.loads(cloudpickle.dumps(f(a)))

        return self.owner.pool.submit(on_worker)


class PlaneBackend(Backend):
    name = "recording"

    def __init__(self, *, hint: int = 1, slow_fn: Any = None, sees: bool = False) -> None:
        self.pool = cf.ThreadPoolExecutor(2)
        self.plane = RecordingPlane(self)
        self.hint, self.slow_fn, self.sees = hint, slow_fn, sees
        self.reports = 0
        self.lock = threading.Lock()

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> cf.Future:
        return self.pool.submit(fn, *args, **kwargs)

    def capabilities(self) -> Capabilities:
        with self.lock:
            self.reports += 1
        return Capabilities(in_process=False, workers=2, batch_hint=lambda n: self.hint,
                            is_slow=lambda t: t.call.func is getattr(self.slow_fn, "fn", None),
                            task_plane=self.plane)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


@pytest.fixture
def backend():
    b = PlaneBackend(hint=100, slow_fn=slow)
    yield b
    b.close()


def test_the_vm_groups_timeout_nodes_and_slow_functions_alone(backend, log, cache) -> None:
    exprs = [tiny(log, i) for i in range(4)] + [slow(log, i) for i in range(2)] + \
        [limited(log, 3)]
    assert pl.run(exprs, backend=backend, cache=cache, progress=False) == \
        [1, 2, 3, 4, 0, -1, 30]
    assert isinstance(backend.plane, TaskPlane) and backend.reports == 1  # once per run
    assert sorted(backend.plane.groups) == sorted(
        [["limited"], ["slow"], ["slow"], ["tiny"] * 4])
    assert vc.count(log, "tiny") == 4 and cache.contains_many([e.key for e in exprs]) == \
        {e.key for e in exprs}  # values travelled back; the client stored each one
    backend.plane.groups.clear()
    assert pl.run(exprs, backend=backend, cache=cache, progress=False)[0] == 1
    assert backend.plane.groups == [] and vc.count(log, "tiny") == 4  # all hits


def test_without_a_batch_hint_every_node_is_its_own_task(log) -> None:
    b = PlaneBackend(hint=1)
    try:
        assert pl.run([tiny(log, i) for i in range(5)], backend=b, cache=False,
                      progress=False) == [1, 2, 3, 4, 5]
        assert b.plane.groups == [["tiny"]] * 5
    finally:
        b.close()


class Refuses:
    """Hashable (it has a key), but the plane refuses to send it."""

    refuse = True

    def __pylearn_hash__(self) -> str:
        return "refuses"


def test_a_group_the_backend_cannot_pickle_fails_as_its_nodes_errors(log, cache) -> None:
    b = PlaneBackend(hint=1)
    try:
        good, bad = tiny(log, 1), tag(log, Refuses())
        with pytest.raises(NodeError) as info:
            pl.run([good, bad], backend=b, cache=cache, progress=False)
        err = info.value
        assert err.key == bad.key and isinstance(err, TypeError)
        assert "cannot be pickled to travel" in str(err) and "refuses to travel" in str(err)
        assert err.partial == {good.key: 2} and not cache.contains(bad)
        assert vc.count(log, "tiny") == 1 and vc.count(log, "tag") == 0
    finally:
        b.close()


def test_the_task_planes_sees_store_decides_the_data_plane(log, cache) -> None:
    b = PlaneBackend(hint=1, sees=True)
    seen: list[Any] = []
    real = b.plane.submit_tasks
    b.plane.submit_tasks = lambda tasks: seen.extend(t.cache for t in tasks) or real(tasks)
    try:
        assert pl.run(tiny(log, 7), backend=b, cache=cache, progress=False) == 8
        assert b.plane.asked == [cache]
        assert seen and all(isinstance(spec, tuple) for spec in seen)  # keys, not the cache
        assert cache.contains(tiny(log, 7))  # the worker stored it through the spec
    finally:
        b.close()


def test_a_capabilities_method_returning_something_else_is_refused() -> None:
    class Wrong(Backend):
        def submit(self, fn: Any, *args: Any, **kwargs: Any) -> cf.Future:
            raise AssertionError("never reached")

        def capabilities(self) -> Any:
            return {"in_process": True}

    with pytest.raises(BackendError, match=r"Wrong.capabilities\(\) must return .*dict"):
        pl.run(tiny("unused", 1), backend=Wrong(), cache=False, progress=False)


def test_a_plain_executor_gets_the_default_report() -> None:
    with cf.ThreadPoolExecutor(3) as threads, cf.ProcessPoolExecutor(1) as procs:
        t, p = capabilities_of(threads), capabilities_of(procs)
    assert (t.in_process, t.workers, t.pickles_by_value, t.task_plane) == (True, 3, True, None)
    assert (p.in_process, p.workers, p.pickles_by_value, p.sees_store) == (False, 1, False, None)
