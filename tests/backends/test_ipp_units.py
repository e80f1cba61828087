"""The ipyparallel adapter's pure parts, without a cluster: batching policy, payloads,
file names in remote tracebacks, the watchdog's timeout helper."""

from __future__ import annotations

import concurrent.futures as cf
import math
import sys
import time
import traceback

import cloudpickle
import ipp_nodes as nodes
import pytest

from pylearn_lab.backends.ipp.batch import TINY, NodeTimes, function_name
from pylearn_lab.vm.batching import groups as vm_groups, split_slow
from pylearn_lab.backends.ipp.packing import is_installed, modules_of, pack
from pylearn_lab.backends.ipp.remote import call_pickled
from pylearn_lab.backends.ipp.watch import call_with_timeout
from pylearn_lab.vm.task import Receipt, Task


def _task(expr) -> Task:
    return Task(expr.call, return_value=True)


def _slow(times: NodeTimes):
    return lambda t: times.is_slow(function_name(t))


def test_known_slow_functions_leave_the_batch_and_tiny_ones_stay() -> None:
    times = NodeTimes()
    tasks = [_task(nodes.tiny(i)) for i in range(4)] + [_task(nodes.plus("log", 1, i))
                                                       for i in range(2)]
    assert split_slow(tasks, _slow(times)) == [tasks]  # nothing known yet: one batch
    times.expect(tasks)
    times.observe_result([Receipt(t.call.key, ok=True, duration=TINY * 5)
                          for t in tasks[4:]])
    times.observe_result(Receipt(tasks[0].call.key, ok=True, duration=TINY / 100))
    groups = split_slow(tasks, _slow(times))
    assert sorted(map(len, groups)) == [1, 1, 4] and groups[-1] == tasks[:4]


def test_a_chain_is_never_split() -> None:
    times = NodeTimes()
    first = nodes.plus("log", 1, 2)
    chain = [_task(first), _task(nodes.plus("log", first, 3))]
    times.observe(f"{nodes.plus.fn.__module__}.{nodes.plus.fn.__qualname__}", 1.0)
    assert split_slow(chain, _slow(times)) == [chain]


def test_timeout_nodes_go_alone_and_the_rest_stay_together_without_timings() -> None:
    tasks = [_task(nodes.tiny(i)) for i in range(4)]
    tasks[2].timeout = 1.0
    assert vm_groups(tasks) == [[tasks[2]], [tasks[0], tasks[1], tasks[3]]]
    assert vm_groups(tasks[:1]) == [tasks[:1]] and vm_groups([]) == []

def test_user_modules_go_by_value_libraries_by_reference() -> None:
    assert modules_of([_task(nodes.tiny(1))]) == {"ipp_nodes"}
    assert modules_of([math.floor, print, cf.Future]) == set()
    assert is_installed(cloudpickle) and is_installed(math)
    assert not is_installed(sys.modules["ipp_nodes"])


def test_payloads_carry_user_code_without_registering_it_for_good(tmp_path) -> None:
    """A fresh interpreter that cannot import ``ipp_nodes`` runs the payload (as an engine
    would), and the client's own pickling of ``ipp_nodes`` objects is left unchanged."""
    log = tmp_path / "log"
    log.mkdir()
    (log / "x-1").touch()
    payload = pack(nodes.count, (str(log), "x"))  # a plain function: by reference normally
    assert "ipp_nodes" not in cloudpickle.list_registry_pickle_by_value()
    assert _run_without_ipp_nodes(payload, tmp_path) == "1"


def _run_without_ipp_nodes(payload: bytes, tmp_path) -> str:
    """What ``payload`` returns in a fresh interpreter that cannot import ``ipp_nodes``."""
    import subprocess

    (tmp_path / "payload").write_bytes(payload)
    code = ("import sys, cloudpickle; from pylearn_lab.backends.ipp.remote import call_pickled; "
            "print(cloudpickle.loads(call_pickled(open(sys.argv[1], 'rb').read(), ['k'])))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "payload")], cwd=tmp_path,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-600:]
    return out.stdout.strip()


def test_a_payload_packed_while_another_thread_packs_still_carries_user_code(tmp_path) -> None:
    """CI failure, session 6: two runs packing at once. One thread registers ``ipp_nodes``
    by value for its own payload; a second thread read the registry meanwhile, took
    ``ipp_nodes`` for the user's own registration, and -- once the first unregistered it --
    pickled its payload by reference (engines: ModuleNotFoundError). Here the first
    thread is held mid-pack (the lock held, the module registered) while the second
    starts; the second's payload must still run where ``ipp_nodes`` cannot be imported."""
    import threading

    from pylearn_lab.backends.ipp import packing

    log = tmp_path / "log"
    log.mkdir()
    (log / "x-1").touch()
    out: list[bytes] = []
    with packing._LOCK:  # the first thread, mid-pack
        cloudpickle.register_pickle_by_value(sys.modules["ipp_nodes"])
        try:
            t = threading.Thread(target=lambda: out.append(pack(nodes.count, (str(log), "x"))))
            t.start()
            t.join(0.5)  # the second thread gets as far as it can before the lock
            assert t.is_alive()  # it waits for the lock, not done
        finally:
            cloudpickle.unregister_pickle_by_value(sys.modules["ipp_nodes"])
    t.join(10)
    assert "ipp_nodes" not in cloudpickle.list_registry_pickle_by_value()
    assert _run_without_ipp_nodes(out[0], tmp_path) == "1"


def test_remote_tracebacks_name_the_users_file_and_line(tmp_path) -> None:
    """cloudpickle writes ``<dynamic-code>`` as the file of by-value code; the payload
    carries the real names and the engine side puts them back."""
    task = Task(nodes.boom(str(tmp_path), 1).call, return_value=True)
    tb = cloudpickle.loads(call_pickled(pack(_run_boom, (task,)), [task.call.key]))
    assert 'ipp_nodes.py", line' in tb and "in boom" in tb and "boom on purpose (1)" in tb
    # without the file names the payload carries, the traceback would say <dynamic-code>
    bare = cloudpickle.loads(cloudpickle.dumps(task.call.func))
    assert bare.__code__.co_filename == "<dynamic-code>"


def _run_boom(task: Task) -> str:
    try:
        task.call.func(*task.call.args, **task.call.kwargs)
    except Exception as exc:
        return "".join(traceback.format_exception(exc))
    return ""


def test_call_with_timeout_abandons_a_stuck_call() -> None:
    assert call_with_timeout(lambda: 5, 1.0) == 5
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 1.0)
    with pytest.raises(TimeoutError):
        call_with_timeout(lambda: time.sleep(2), 0.05)


class _FakeAsyncResult(cf.Future):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.msg_ids = [f"m{n}"]


class _StuckController:
    """A client whose controller never answers queue_status (as a dead one would)."""

    ids = [0]
    metadata: dict = {}

    def queue_status(self) -> None:
        time.sleep(3600)

    def abort(self, *a, **k) -> None:
        pass


def test_results_prove_a_busy_controller_alive_and_silence_means_gone() -> None:
    from pylearn_lab.backends.ipp.watch import Watchdog
    from pylearn_lab.errors import ClusterGoneError

    dog = Watchdog(_StuckController(), engine_timeout=60, health_interval=0.1,
                   health_timeout=1.0)
    try:
        waiting = dog.track(_FakeAsyncResult(0))
        for n in range(1, 100):  # results flow for 2.5 s, longer than health_timeout
            ar = _FakeAsyncResult(n)
            dog.track(ar)
            ar.set_result(cloudpickle.dumps(n))
            time.sleep(0.025)
        assert not waiting.done()
        with pytest.raises(ClusterGoneError, match="did not answer"):
            waiting.result(timeout=30)  # silence: the watchdog gives up
        assert dog.error is not None
    finally:
        dog.stop()


class _Answer:
    def __init__(self, value) -> None:
        self.value = value

    def add_done_callback(self, cb) -> None:
        cb(self)

    def result(self):
        return self.value


class _InProcessEngines:
    """Engines that answer the probe at once, in this process, each with its own view:
    ``views[e]`` rewrites the path engine ``e`` is asked about (None: answers nothing)."""

    def __init__(self, views) -> None:
        self.views = views
        self.ids = list(views)
        self._target = None

    def __getitem__(self, e):
        self._target = e
        return self

    def apply_async(self, fn, root, probe, token):
        view = self.views[self._target]
        if view is None:
            class Silent:
                def add_done_callback(self, cb):
                    pass
            return Silent()
        return _Answer(fn(view(root), probe, token))


def test_visibility_is_decided_per_engine_and_a_silent_one_blocks_nobody(tmp_path) -> None:
    from pylearn_lab.backends.ipp.store import Visibility
    from pylearn_lab.cache import Cache

    cache = Cache(tmp_path / "c")
    elsewhere = tmp_path / "other"
    Cache(elsewhere)  # a cache directory with the same layout, but another one
    engines = _InProcessEngines({0: lambda r: r, 1: lambda r: str(elsewhere),
                                 2: lambda r: r + "-missing", 3: None})
    v = Visibility(engines, timeout=0.5)
    assert v.ask(cache.location, wait=0.5) == {0}
    verdicts = v.verdicts(cache.location)
    assert verdicts[0] == (True, "")
    assert not verdicts[1][0] and "another directory" in verdicts[1][1]
    assert not verdicts[2][0] and "no directory" in verdicts[2][1]
    assert 3 not in verdicts  # still busy: counted blind, asked again later
    assert not (tmp_path / "c-missing").exists()  # the probe never creates a cache
    v.revoke(cache.location, 0, "could not read a blob")
    assert v.seers(cache.location) == set()
    v.close()
    assert list((tmp_path / "c" / "tmp").iterdir()) == []  # the token file is removed


def test_path_map_longest_prefix_and_bad_maps() -> None:
    from pylearn_lab.backends.ipp.store import Visibility

    v = Visibility(_InProcessEngines({}), {"/home/u": "/mnt/u", "/home/u/proj": "/proj"})
    assert v.engine_path("/home/u/proj/.pylearn") == "/proj/.pylearn"
    assert v.engine_path("/home/u/x") == "/mnt/u/x"
    assert v.engine_path("/home/uu/x") == "/home/uu/x"  # a prefix is a whole directory
    with pytest.raises(ValueError, match="absolute paths"):
        Visibility(_InProcessEngines({}), {"home/u": "/mnt/u"})


def test_adopt_indexes_engine_rows_in_one_batch_and_locate_refuses_forged_rows(tmp_path) -> None:
    """The client half of the data plane against a real on-disk cache: rows an engine
    sent back (small bytes; a blob it wrote) are indexed in one transaction and read
    back; a second writer of a key loses cleanly; a forged row is never located."""
    import numpy as np

    from pylearn_lab.backends.ipp.blobs import BlobPlan, run_with_blobs
    from pylearn_lab.backends.ipp.remote import SEEN_ROOTS, probe_store
    from pylearn_lab.cache import Cache
    from pylearn_lab.graph.nodes import Call
    from pylearn_lab.vm.task import Task

    cache = Cache(tmp_path / "c")
    root = cache.location
    (tmp_path / "c" / "tmp" / "p").write_text("tok")
    assert probe_store(root, "tmp/p", "tok") == (True, "")  # this process "is" a seeing engine
    try:
        big = Task(Call(np.arange, (100_000.0,), {}, "b" * 32, "arange"), store=True)
        small = Task(Call(abs, (-3,), {}, "s" * 32, "abs"), store=True)
        plan = BlobPlan(root=root, seers=frozenset({0}), write=True,
                        key_id=cache.store._signer.key_id)
        out = run_with_blobs([big, small], plan, batch=True)
    finally:
        SEEN_ROOTS.discard(root)
    assert [r.ok for r in out] == [True, True]
    kinds = {row["key"][0]: ("tmp" in row, "payload" in row) for row in out.rows}
    assert kinds == {"b": (True, False), "s": (False, True)}  # the big one is a temp file
    assert not cache.store.index.present(["b" * 32])  # nothing visible before the client adopts
    assert cache.store.adopt(out.rows) == {"b" * 32, "s" * 32}
    assert cache.load("s" * 32) == 3 and cache.load("b" * 32)[-1] == 99_999.0
    again = run_with_blobs([Task(Call(abs, (-3,), {}, "s" * 32, "abs"), store=True)],
                           BlobPlan(root=None), batch=False)
    assert cache.store.adopt(again.rows) == set()  # stored already: the first writer won
    found = cache.store.locate(["b" * 32, "s" * 32, "z" * 32])
    assert set(found) == {"b" * 32, "s" * 32} and found["s" * 32]["inline"] is not None
    assert found["b" * 32]["blob"] == "bb/" + "b" * 32  # published under the key's own name
    assert list((tmp_path / "c" / "tmp").iterdir()) == [tmp_path / "c" / "tmp" / "p"]
    cache.store.index.insert("f" * 32, "pickle", 1, "c", None, b"x", "forged-mac", {})
    assert cache.store.locate(["f" * 32]) == {}


def test_component_timeout_is_checked_and_does_not_change_keys() -> None:
    import pylearn_lab as pl
    from pylearn_lab.errors import OptionError

    def f(x: int) -> int:
        return x

    plain, limited = pl.component(f), pl.component(timeout=5)(f)
    assert limited.timeout == 5.0 and plain.timeout is None
    assert plain(1).key == limited(1).key  # how long a call may take is not what it computes
    for bad in (0, -1, "5s"):
        with pytest.raises(OptionError, match=r"component\(timeout=\) expected a number of"):
            pl.component(timeout=bad)(f)
