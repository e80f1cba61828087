"""Red team: wrong results from ``run()``, ``sweep()`` and the backends.

Each test tries to make the VM return or store a value that differs from a
fresh computation, compute a node twice, or let an error escape as the wrong
type. Counting functions write to ``pl.untracked`` lists (not part of any key);
"fresh" means the same expression computed alone in a new cache.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import threading

import numpy as np
import pandas as pd
import pytest

import pylearn_lab as pl
from pylearn_lab.backends.local import Backend
from pylearn_lab.errors import NodeError
from pylearn_lab.vm.isolate import guarded

RAN = pl.untracked([])


def _fresh(tmp_path, expr, name="fresh"):
    return pl.run(expr, cache=pl.Cache(tmp_path / name))


# -- components ----------------------------------------------------------------------
@pl.component
def arange(n: int) -> np.ndarray:
    RAN.append("arange")
    return np.arange(n, dtype=float)


@pl.component
def unlocks_and_bumps(x: np.ndarray) -> float:
    """A careless user's answer to "assignment destination is read-only"."""
    x.setflags(write=True)
    x += 1
    return float(x.sum())


@pl.component
def bumps_base(x: np.ndarray) -> float:
    base = x.base if x.base is not None else x
    if isinstance(base, np.ndarray):
        base += 1
    return float(x.sum())


@pl.component
def total(x) -> float:
    RAN.append("total")
    return float(np.asarray(x).sum())


class Holder:
    def __init__(self) -> None:
        self.rows: list = []


@pl.component
def holders(n: int) -> set:
    out = set()
    for _ in range(n):
        out.add(Holder())
    return out


@pl.component
def fills(hs: set) -> int:
    for h in hs:
        h.rows.append(1)
    return 0


@pl.component
def filled(hs: set) -> int:
    return sum(len(h.rows) for h in hs)


@pl.component
def rows(n: int) -> list:
    RAN.append("rows")
    return list(range(n))


@pl.component
def appends(xs: list) -> int:
    xs.append(100)
    return len(xs)


@pl.component
def summed(xs: list) -> int:
    RAN.append("summed")
    return sum(xs)


# -- vm/isolate.py --------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_unlocking_a_read_only_input_cannot_change_a_siblings_input(tmp_path, backend):
    cache = pl.Cache(tmp_path / "cache")
    x = arange(6)
    try:
        pl.run([unlocks_and_bumps(x), total(x)], cache=cache, backend=backend)
    except NodeError as err:
        assert "WRITEABLE" in str(err) or "read-only" in str(err)
    RAN.clear()
    assert pl.run(total(arange(6)), cache=cache) == 15.0
    assert pl.run(arange(6), cache=cache).tolist() == list(range(6))


def test_guarded_array_cannot_be_unlocked_nor_written_through_its_base():
    a = np.arange(4.0)
    g = guarded(a)
    with pytest.raises(ValueError):
        g.setflags(write=True)
    with pytest.raises(ValueError):
        g.flags.writeable = True
    base = g.base
    while isinstance(base, np.ndarray):
        assert not base.flags.writeable
        base = base.base
    assert a.tolist() == [0, 1, 2, 3] and a.flags.writeable
    assert np.shares_memory(a, g), "still a view, no copy"


@pytest.mark.parametrize("make", [
    lambda: np.arange(12.0).reshape(3, 4)[:, ::2],          # strided
    lambda: np.arange(12.0).reshape(3, 4).T,                 # Fortran order
    lambda: np.array(["2020-01-01", "2021-02-03"], dtype="datetime64[ns]"),
    lambda: np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]),  # structured
    lambda: np.zeros((0, 3)),
    lambda: np.arange(3.0)[::-1],
    lambda: np.array(5.0),
])
def test_guarded_arrays_of_every_layout_equal_the_original_and_stay_locked(make):
    a = make()
    g = guarded(a)
    assert g.dtype == a.dtype and g.shape == a.shape
    assert g.strides == a.strides or a.size == 0  # (empty: numpy normalises strides)
    assert np.array_equal(g, a) or a.dtype.kind == "V" and g.tobytes() == a.tobytes()
    assert type(g) is np.ndarray and not g.flags.writeable
    with pytest.raises(ValueError):
        g.setflags(write=True)
    assert pl.hash_value(g) == pl.hash_value(a)


@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_a_set_of_objects_is_isolated_too(tmp_path, backend):
    cache = pl.Cache(tmp_path / "cache")
    hs = holders(3)
    assert pl.run([fills(hs), filled(hs)], cache=cache, backend=backend) == [0, 0]
    assert _fresh(tmp_path, filled(holders(3))) == 0


# -- the seam: executors and backends from a user ---------------------------------------
class InlineExecutor(cf.Executor):
    """A user's executor that runs each call at once, in this process (a common pattern)."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut


class InlineBackend(Backend):
    """A custom Backend subclass that forgot ``in_process = True`` (the base class says False)."""

    def submit(self, fn, *args, **kwargs):
        return InlineExecutor().submit(fn, *args, **kwargs)


@pytest.mark.parametrize("make", [InlineExecutor, InlineBackend])
@pytest.mark.parametrize("cached", [True, False])
def test_an_executor_that_runs_in_process_unannounced_still_isolates_inputs(tmp_path, make,
                                                                            cached):
    cache = pl.Cache(tmp_path / "cache") if cached else False
    src = rows(3)
    got = pl.run([appends(src), summed(src), src], cache=cache, backend=make())
    assert got == [4, 3, [0, 1, 2]]
    if cached:
        RAN.clear()
        assert pl.run([summed(rows(3)), rows(3)], cache=pl.Cache(tmp_path / "cache")) \
            == [3, [0, 1, 2]]
        assert RAN == []


class BrokenSubmit(cf.Executor):
    def submit(self, fn, /, *args, **kwargs):
        raise RuntimeError("my executor is broken")


@pytest.mark.parametrize("make", [BrokenSubmit, "closed"])
def test_an_executor_whose_submit_raises_fails_the_run_clearly(tmp_path, make):
    if make == "closed":
        with cf.ThreadPoolExecutor(1) as backend:  # shut down at the end of the block
            pass
        said = "after shutdown"
    else:
        backend, said = make(), "my executor is broken"
    with pytest.raises(pl.errors.BackendError, match=said) as info:
        pl.run(summed(rows(3)), cache=pl.Cache(tmp_path / "c"), backend=backend,
               progress=False)
    assert "submit() refused a task" in str(info.value) and "still open" in str(info.value)
    assert isinstance(info.value, RuntimeError)  # what the executor raised stays catchable
    # nothing was stored and nothing is left claimed: a working backend computes it
    assert pl.run(summed(rows(3)), cache=pl.Cache(tmp_path / "c"), backend="serial") == 3


@pytest.mark.parametrize("workers", [1, 2])
def test_a_plain_thread_pool_and_process_pool_give_fresh_results(tmp_path, workers):
    src = rows(4)
    with cf.ThreadPoolExecutor(workers) as pool:
        assert pl.run([appends(src), summed(src)], cache=pl.Cache(tmp_path / "t"),
                      backend=pool) == [5, 6]
    with cf.ProcessPoolExecutor(workers) as pool:
        assert pl.run([appends(src), summed(src)], cache=pl.Cache(tmp_path / "p"),
                      backend=pool) == [5, 6]
    assert pl.run(summed(rows(4)), cache=pl.Cache(tmp_path / "p")) == 6


# -- generators as values ----------------------------------------------------------------
@pl.component
def counting(n: int):
    return (i for i in range(n))


@pl.component
def consumed(it) -> int:
    return sum(it)


@pl.component
def consumed_times(it, k: int) -> int:
    return sum(it) * k


@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_a_generator_read_by_two_nodes_never_gives_one_an_empty_one(tmp_path, backend):
    g = counting(4)
    with pytest.raises(TypeError, match=r"one-shot generator.*list\(") as info:
        pl.run([consumed(g), consumed_times(g, 2)], cache=False, backend=backend)
    err = info.value
    assert isinstance(err, NodeError) and err.others == []
    assert list(err.partial.values()) == [12], "the one reader that got it computed right"


def test_a_generator_returned_and_read_is_refused_not_returned_consumed(tmp_path):
    g = counting(3)
    with pytest.raises(TypeError, match="one-shot"):
        pl.run([g, consumed(g)], cache=False)
    assert pl.run(consumed(counting(3)), cache=False) == 3  # one reader: fine


# -- run() semantics -----------------------------------------------------------------------
@pl.component
def slow_square(x: int) -> int:
    RAN.append(("slow_square", x))
    import time

    time.sleep(0.2)
    return x * x


@pl.component
def add(a: int, b: int) -> int:
    RAN.append("add")
    return a + b


@pl.component
def flaky(x: int, fail: bool) -> int:
    RAN.append(("flaky", x))
    if fail:
        raise KeyError("point failed on purpose")
    return x * 10


@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_the_same_expr_twice_and_a_diamond_compute_each_node_once(tmp_path, backend):
    RAN.clear()
    src = rows(4)
    left, right = summed(src), appends(src)
    top = add(left, right)
    got = pl.run([top, top, src, left, src], cache=pl.Cache(tmp_path / "c"), backend=backend)
    assert got == [6 + 5, 11, [0, 1, 2, 3], 6, [0, 1, 2, 3]]
    assert sorted(map(str, RAN)) == ["add", "rows", "summed"]
    assert got[2] is got[4], "one node, one value"


def test_sweep_keep_computes_each_good_point_once_and_honours_cache_false(tmp_path):
    RAN.clear()
    sw = pl.sweep(flaky, grid={"x": [1, 2, 3], "fail": [False]}, cache=False, errors="keep")
    assert sw.values == [10, 20, 30] and sw.failed == []
    RAN.clear()
    sw = pl.sweep(flaky, grid=[{"x": 1, "fail": False}, {"x": 2, "fail": True},
                               {"x": 3, "fail": False}], cache=False, errors="keep")
    assert sw.values == [10, None, 30] and sw.failed == [1]
    assert sorted(RAN) == [("flaky", 1), ("flaky", 2), ("flaky", 3)], "each point once"
    RAN.clear()  # cache=False stored nothing anywhere: the same sweep computes again
    pl.sweep(flaky, grid=[{"x": 1, "fail": False}], cache=False)
    assert RAN == [("flaky", 1)]


def test_sweep_keep_with_a_cache_stores_good_points_and_never_the_failed_one(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    grid = [{"x": 1, "fail": False}, {"x": 2, "fail": True}]
    RAN.clear()
    sw = pl.sweep(flaky, grid=grid, cache=cache, errors="keep")
    assert sw.values == [10, None]
    RAN.clear()
    sw = pl.sweep(flaky, grid=grid, cache=cache, errors="keep")
    assert sw.values == [10, None] and RAN == [("flaky", 2)], "the good point was a hit"


def test_two_threads_running_overlapping_graphs_compute_shared_nodes_once(tmp_path):
    RAN.clear()
    cache = pl.Cache(tmp_path / "c")
    out: dict[str, object] = {}

    def go(name, exprs):
        out[name] = pl.run(exprs, cache=cache, backend="threads", progress=False)

    a = threading.Thread(target=go, args=("a", [slow_square(3), add(slow_square(3), 1)]))
    b = threading.Thread(target=go, args=("b", [add(slow_square(3), 1), slow_square(4)]))
    a.start(), b.start()
    a.join(30), b.join(30)
    assert out == {"a": [9, 10], "b": [10, 16]}
    assert RAN.count(("slow_square", 3)) == 1, f"single flight broken: {RAN}"
    assert RAN.count("add") == 1


class FlakyInProcess(cf.Executor):
    """In-process executor whose first future fails after the call ran (a lost worker)."""

    in_process = True

    def __init__(self) -> None:
        self.lost = 0

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        value = fn(*args, **kwargs)
        names = [t.call.label for t in (args[0] if isinstance(args[0], list) else [args[0]])]
        if self.lost == 0 and any("appends" in n for n in names):
            self.lost += 1
            fut.set_exception(ConnectionError("worker lost after running"))
        else:
            fut.set_result(value)
        return fut


def test_a_retried_last_reader_gets_its_input_unchanged_by_its_first_attempt(tmp_path):
    cache = pl.Cache(tmp_path / "c")
    src = rows(3)
    ex = FlakyInProcess()
    # appends is the only reader of src (and src is not an output): it is handed src itself
    got = pl.run([appends(src)], cache=cache, backend=ex, retries=1)
    assert ex.lost == 1
    assert got == [4], "the retry saw the list its first attempt appended to"
    ex = FlakyInProcess()
    got = pl.run([summed(rows(5)), appends(rows(5))], cache=False, backend=ex, retries=1)
    assert ex.lost == 1 and got == [10, 6]
    assert pl.run(appends(rows(3)), cache=pl.Cache(tmp_path / "c")) == 4


@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_a_batching_rewrite_rule_keeps_inputs_isolated(tmp_path, backend):
    from pylearn_lab.vm.rewrite import register_rewrite, unregister_rewrite

    def batch_all(plan):
        plan.batch = 8
        return plan

    register_rewrite(batch_all)
    try:
        src = rows(3)
        got = pl.run([appends(src), summed(src), src, add(summed(src), appends(src))],
                     cache=pl.Cache(tmp_path / "c"), backend=backend)
    finally:
        unregister_rewrite(batch_all)
    assert got == [4, 3, [0, 1, 2], 7]
    assert _fresh(tmp_path, add(summed(rows(3)), appends(rows(3)))) == 7


def test_changing_a_literal_argument_after_building_refuses_to_store(tmp_path):
    data = [1, 2, 3]
    e = summed(data)
    data.append(4)  # careless user: the Expr was keyed on [1, 2, 3]
    with pytest.raises(pl.errors.StaleKeyError):
        pl.run(e, cache=pl.Cache(tmp_path / "c"))
    assert pl.run(summed([1, 2, 3]), cache=pl.Cache(tmp_path / "c")) == 6


# -- literal arguments shared by several nodes ---------------------------------------------
@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_a_node_changing_a_literal_argument_cannot_change_a_siblings_result(tmp_path, backend):
    data = [0, 1, 2]
    cache = pl.Cache(tmp_path / "c")
    got = pl.run([appends(data), summed(data)], cache=cache, backend=backend)
    assert got == [4, 3]
    assert data == [0, 1, 2], "the user's own list was changed by a node"
    RAN.clear()
    assert pl.run(summed([0, 1, 2]), cache=pl.Cache(tmp_path / "c")) == 3
    assert _fresh(tmp_path, summed([0, 1, 2])) == 3


# -- cancel, interrupt, timeouts -------------------------------------------------------------
@pl.component
def sleepy(x: int, s: float = 0.6) -> int:
    import time

    RAN.append(("sleepy", x))
    time.sleep(s)
    return x + 1


def test_cancel_mid_run_then_run_again_computes_the_running_node_once(tmp_path):
    RAN.clear()
    cache = pl.Cache(tmp_path / "c")
    h = pl.run([sleepy(1)], cache=cache, backend="threads", wait=False)
    import time

    deadline = time.time() + 5
    while ("sleepy", 1) not in RAN and time.time() < deadline:
        time.sleep(0.01)
    h.cancel()
    with pytest.raises(pl.errors.RunCancelledError):
        h.result()
    assert pl.run([sleepy(1)], cache=cache, backend="threads") == [2]
    assert RAN.count(("sleepy", 1)) == 1, f"computed twice: {RAN}"


def test_node_timeout_on_in_process_backends_is_not_a_wrong_result(tmp_path):
    got = pl.run([sleepy(2, 0.3)], cache=pl.Cache(tmp_path / "c"), backend="threads",
                 node_timeout=0.05)
    assert got == [3]


class WrongResult(cf.Executor):
    """A user's executor that drops the call and resolves every future with None."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        fut.set_result(None)
        return fut


def test_a_backend_whose_future_brings_no_receipt_is_a_backend_error(tmp_path):
    with pytest.raises(pl.errors.BackendError, match="WrongResult"):
        pl.run(summed(rows(3)), cache=pl.Cache(tmp_path / "c"), backend=WrongResult(),
               progress=False)
    assert pl.run(summed(rows(3)), cache=pl.Cache(tmp_path / "c")) == 3


# -- more values a reader could change ---------------------------------------------------------
@pl.component
def buffer(n: int) -> memoryview:
    return memoryview(bytearray(range(n)))


@pl.component
def pokes(m: memoryview) -> int:
    m[0] = 200
    return 0


@pl.component
def first_byte(m: memoryview) -> int:
    return m[0]


def test_a_memoryview_reaches_readers_read_only(tmp_path):
    b = buffer(4)
    with pytest.raises(TypeError, match="read-only"):
        pl.run([pokes(b), first_byte(b)], cache=False)
    assert guarded(memoryview(bytearray(b"ab"))).readonly


@pl.component
def mutates_k(xs: list, k: int) -> int:
    xs.append(k)
    xs[0] = -k
    return sum(xs)


def test_many_readers_changing_one_list_at_once_on_threads(tmp_path):
    src = rows(50)
    readers = [mutates_k(src, k) for k in range(1, 25)]
    got = pl.run(readers + [summed(src)], cache=pl.Cache(tmp_path / "c"),
                 backend=pl.backends.ThreadBackend(4))
    base = sum(range(50))
    assert got == [base + k - k for k in range(1, 25)] + [base]


@pl.component
def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": np.arange(n, dtype=float)})


@pl.component
def unlocks_frame(df: pd.DataFrame) -> int:
    a = df.to_numpy()
    a.setflags(write=True)  # pandas hands a read-only view of the shared block
    a[0, 0] = 100.0
    return 0


@pl.component
def frame_sum(df: pd.DataFrame) -> float:
    return float(df["a"].sum())


@pytest.mark.xfail(strict=True, reason="known limit (docs/keys.md): pandas' own read-only "
                   "views of a copy-on-write frame can be unlocked; not deep-copied for cost")
def test_unlocking_a_pandas_frames_numpy_view_cannot_change_a_sibling(tmp_path):
    f = frame(3)
    pl.run([unlocks_frame(f), frame_sum(f)], cache=pl.Cache(tmp_path / "c"), backend="serial")
    assert pl.run(frame_sum(frame(3)), cache=pl.Cache(tmp_path / "c")) == 3.0


@pl.component
def writes_literal(d: dict) -> int:
    d["a"][0] = 99
    return 0


@pl.component
def reads_literal(d: dict) -> float:
    return float(d["a"].sum())


class Bag:
    def __init__(self) -> None:
        self.v = [1]


@pl.component
def fills_bag(b: Bag) -> int:
    b.v.append(5)
    return 0


@pl.component
def bag_sum(b: Bag) -> int:
    return sum(b.v)


@pl.component(ignore=["log"])
def logs(x: int, log: object = None) -> int:
    log.append(x)
    return x


@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_a_literal_array_or_object_shared_by_two_nodes_is_not_changed_by_either(tmp_path,
                                                                                 backend):
    cache = pl.Cache(tmp_path / "c")
    arrays, bag = {"a": np.arange(3.0)}, Bag()
    with pytest.raises(ValueError, match="read-only"):
        pl.run([writes_literal(arrays), reads_literal(arrays)], cache=cache, backend=backend)
    assert arrays["a"].tolist() == [0, 1, 2] and arrays["a"].flags.writeable
    assert pl.run(reads_literal({"a": np.arange(3.0)}), cache=cache) == 3.0
    assert pl.run([fills_bag(bag), bag_sum(bag)], cache=cache, backend=backend) == [0, 1]
    assert bag.v == [1], "the user's own object was changed by a node"
    assert _fresh(tmp_path, bag_sum(Bag())) == 1


def test_ignored_callables_and_untracked_arguments_are_still_shared(tmp_path):
    seen = collections.deque()  # an ignored parameter: passed on as it is
    marked = pl.untracked(collections.deque())
    assert pl.run([logs(1, seen), logs(2, seen), logs(3, marked)], cache=False) == [1, 2, 3]
    assert sorted(seen) == [1, 2] and list(marked) == [3]

    class Recorder:
        def __init__(self) -> None:
            self.got: list = []

        def __call__(self, x):
            self.got.append(x)

    rec = Recorder()
    assert pl.run(calls_back(5, rec), cache=False) == 5
    assert rec.got == [5], "a callable object is shared, not copied"
    shared = pl.untracked(Bag())  # the user's promise: no result depends on it
    assert pl.run(fills_bag(shared), cache=False) == 0 and shared.v == [1, 5]


@pl.component
def calls_back(x: int, f: object) -> int:
    f(x)
    return x


@pl.component
def writes_array(x: np.ndarray) -> int:
    x[0] = 99.0
    return 0


@pl.component
def array_sum(x: np.ndarray) -> float:
    return float(x.sum())


@pytest.mark.parametrize("cached", [True, False])
def test_one_shipped_batch_does_not_share_a_literal_array_between_its_nodes(tmp_path, cached):
    from pylearn_lab.vm.rewrite import register_rewrite, unregister_rewrite

    def batch_all(plan):
        plan.batch = 8
        return plan

    x = np.arange(4.0)
    cache = pl.Cache(tmp_path / "c") if cached else False
    register_rewrite(batch_all)
    try:  # the writer fails as on any read-only input, or works on its own copy
        got = pl.run([writes_array(x), array_sum(x)], cache=cache, backend="processes")
    except ValueError as err:
        assert "read-only" in str(err)
        got = [0, err.partial[array_sum(x).key]]
    finally:
        unregister_rewrite(batch_all)
    assert got == [0, 6.0] and x[0] == 0.0
    if cached:
        assert pl.run(array_sum(np.arange(4.0)), cache=pl.Cache(tmp_path / "c")) == 6.0


def test_call_while_a_run_computes_the_same_key_in_a_thread_computes_it_once(tmp_path):
    RAN.clear()
    cache = pl.Cache(tmp_path / "c")
    h = pl.run([sleepy(7, 0.5)], cache=cache, backend="threads", wait=False)
    import time

    deadline = time.time() + 5
    while ("sleepy", 7) not in RAN and time.time() < deadline:
        time.sleep(0.01)
    fut = pl.call(sleepy, (7, 0.5), cache=cache, backend="threads")
    assert fut.result(timeout=30) == 8 and h.result() == [8]
    assert RAN.count(("sleepy", 7)) == 1, f"computed twice: {RAN}"
    assert pl.call(sleepy, (7, 0.5), cache=cache).result() == 8  # a hit, resolved at once
    assert RAN.count(("sleepy", 7)) == 1


INTERRUPT = pl.untracked([True])


@pl.component
def interrupted(x: int) -> int:
    RAN.append(("interrupted", x))
    if INTERRUPT and INTERRUPT.pop():
        raise KeyboardInterrupt  # as Ctrl-C in the middle of the node
    return -x


@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_ctrl_c_mid_run_then_run_again_is_right_and_never_waits_for_a_claim(tmp_path, backend):
    import time

    RAN.clear()
    INTERRUPT[:] = [True]
    cache = pl.Cache(tmp_path / "c")
    exprs = [summed(rows(3)), interrupted(1)]
    with pytest.raises(KeyboardInterrupt):
        pl.run(exprs, cache=cache, backend=backend, retries=0)
    t0 = time.monotonic()
    assert pl.run(exprs, cache=cache, backend=backend) == [3, -1]
    assert time.monotonic() - t0 < 10, "the re-run waited for a claim left by the first"
    assert RAN.count(("interrupted", 1)) == 2 and RAN.count("summed") <= 1


class Liar(cf.ThreadPoolExecutor):
    """An executor whose report is wrong in every way it can be."""

    def __init__(self, hint) -> None:
        super().__init__(2)
        self.hint = hint

    def capabilities(self):
        from pylearn_lab.backends.capabilities import Capabilities

        return Capabilities(in_process=False, workers=0, batch_hint=self.hint)


@pytest.mark.parametrize("hint", [lambda n: 10 ** 9, lambda n: 0, lambda n: -3, lambda n: 2.7])
def test_a_backend_whose_capabilities_lie_still_gives_fresh_results(tmp_path, hint):
    src = rows(3)
    with Liar(hint) as backend:
        got = pl.run([appends(src), summed(src), add(summed(src), 1)],
                     cache=pl.Cache(tmp_path / "c"), backend=backend)
    assert got == [4, 3, 4]
    assert pl.run(summed(rows(3)), cache=pl.Cache(tmp_path / "c")) == 3


@pytest.mark.parametrize("hint", [lambda n: None, lambda n: "many"])
def test_a_batch_hint_that_is_no_number_is_a_backend_error(tmp_path, hint):
    with Liar(hint) as backend:
        with pytest.raises(pl.errors.BackendError, match="batch_hint"):
            pl.run(summed(rows(3)), cache=pl.Cache(tmp_path / "c"), backend=backend)


# -- property: whatever a reader does to a guarded value, the original keeps its hash ------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


class Slot:
    def __init__(self, v) -> None:
        self.v = v

    def __eq__(self, other):
        return isinstance(other, Slot) and pl.hash_value(self.v) == pl.hash_value(other.v)

    __hash__ = object.__hash__


_leaf = st.one_of(st.integers(-5, 5), st.text(max_size=3), st.none(),
                  st.lists(st.floats(-1e3, 1e3), max_size=4).map(np.array))
_values = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.tuples(inner, inner),
    st.dictionaries(st.text(max_size=2), inner, max_size=3), inner.map(Slot),
    st.frozensets(st.integers(0, 3), max_size=3).map(lambda s: {Slot(i) for i in s})),
    max_leaves=12)


def _vandalise(v, depth=0):
    """Change everything in ``v`` that can be changed in place (as a careless node would)."""
    if depth > 20:
        return
    if isinstance(v, np.ndarray):
        try:
            v.setflags(write=True)
        except ValueError:
            pass
        try:
            v[...] = 7
        except ValueError:
            pass
    elif isinstance(v, list):
        for x in v:
            _vandalise(x, depth + 1)
        v.append("x")
    elif isinstance(v, dict):
        for x in v.values():
            _vandalise(x, depth + 1)
        v["new"] = 1
    elif isinstance(v, (tuple, set, frozenset)):
        for x in v:
            _vandalise(x, depth + 1)
    elif isinstance(v, Slot):
        _vandalise(v.v, depth + 1)
        v.v = "changed"


@settings(max_examples=150, deadline=None)
@given(_values)
def test_no_change_to_a_guarded_value_reaches_the_original(value):
    before = pl.hash_value(value)
    g = guarded(value)
    assert pl.hash_value(g) == before, "the guarded value equals the original"
    _vandalise(g)
    assert pl.hash_value(value) == before


SEEN_ARRAYS = pl.untracked([])


@pl.component
def keeps(x: np.ndarray, k: int) -> int:
    SEEN_ARRAYS.append(x)
    return k


def test_nodes_built_from_one_literal_array_share_one_locked_view(tmp_path):
    SEEN_ARRAYS.clear()
    x = np.arange(5.0)
    assert pl.run([keeps(x, k) for k in range(4)], cache=False) == [0, 1, 2, 3]
    assert len({id(a) for a in SEEN_ARRAYS}) == 1 and not SEEN_ARRAYS[0].flags.writeable
    assert np.shares_memory(SEEN_ARRAYS[0], x) and x.flags.writeable


class Unprintable(ValueError):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken too")


@pl.component
def raises_unprintable(x: int) -> int:
    RAN.append(("unprintable", x))
    raise Unprintable()


@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_an_exception_that_cannot_be_printed_fails_its_node_once_as_itself(tmp_path, backend):
    RAN.clear()
    with pytest.raises(ValueError) as info:
        pl.run(raises_unprintable(1), cache=pl.Cache(tmp_path / "c"), backend=backend)
    assert isinstance(info.value, NodeError) and "Unprintable" in str(info.value)
    assert "worker was lost" not in str(info.value)
    assert RAN == [("unprintable", 1)], "a node error is never retried"


def test_two_threads_sharing_a_memory_cache_compute_shared_nodes_once():
    RAN.clear()
    cache = pl.Cache(":memory:")
    out: dict[str, object] = {}

    def go(name, exprs):
        out[name] = pl.run(exprs, cache=cache, backend="threads", progress=False)

    a = threading.Thread(target=go, args=("a", [slow_square(5)]))
    b = threading.Thread(target=go, args=("b", [add(slow_square(5), 1)]))
    a.start(), b.start()
    a.join(30), b.join(30)
    assert out == {"a": [25], "b": [26]}
    assert RAN.count(("slow_square", 5)) == 1, f"single flight broken: {RAN}"
