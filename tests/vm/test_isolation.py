"""A node that changes its input in place changes nothing another node sees.

Before ``vm/isolate.py`` an in-process run handed one upstream object to every
reader: a reader that appended to it, wrote into it or set an attribute made
its siblings compute from the changed value, and their results were stored
under keys naming the unchanged one (a wrong hit in every later session).
Each test runs the graph, then compares every stored entry and every returned
value with a fresh computation in a new cache.
"""

from __future__ import annotations

import cloudpickle
import numpy as np
import pandas as pd
import pytest

import pylearn_lab as pl
from pylearn_lab.errors import NodeError
from pylearn_lab.graph.nodes import Call
from pylearn_lab.vm.isolate import guarded
from pylearn_lab.vm.task import Task, execute_batch

RAN = pl.untracked([])
SEEN = pl.untracked([])


class Box:
    def __init__(self, v: int) -> None:
        self.v = v


@pl.component
def listed(n: int) -> list:
    RAN.append("listed")
    return list(range(n))


@pl.component
def appends(xs: list) -> int:
    xs.append(100)
    return len(xs)


@pl.component
def summed(xs: list) -> int:
    RAN.append("summed")
    return sum(xs)


@pl.component
def nested(n: int) -> dict:
    return {"rows": [list(range(n))], "meta": {"n": n}}


@pl.component
def clobbers_nested(d: dict) -> int:
    d["rows"][0].append(100)
    d["meta"]["n"] = -1
    return 0


@pl.component
def reads_nested(d: dict) -> int:
    return sum(d["rows"][0]) + d["meta"]["n"]


@pl.component
def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": np.arange(n)})


@pl.component
def sets_column(df: pd.DataFrame) -> int:
    df["a"] = 0
    df.loc[0, "a"] = 7
    return int(df["a"].sum())


@pl.component
def frame_total(df: pd.DataFrame) -> int:
    return int(df["a"].sum())


@pl.component
def boxed(v: int) -> Box:
    out = Box(v)
    SEEN.append(("made", id(out)))
    return out


@pl.component
def sets_attr(b: Box) -> int:
    SEEN.append(("read", id(b)))
    b.v = -1
    return 0


@pl.component
def box_value(b: Box) -> int:
    SEEN.append(("read", id(b)))
    return b.v


@pl.component
def arange(n: int) -> np.ndarray:
    return np.arange(n, dtype=float)


@pl.component
def bumps(x: np.ndarray) -> float:
    x += 1
    return float(x.sum())


@pl.component
def array_total(x: np.ndarray) -> float:
    return float(x.sum())


@pl.component
def split(n: int) -> tuple:
    return np.arange(n), np.arange(n) * 2


@pl.component
def shares(parts: tuple) -> bool:
    SEEN.append(parts)
    return True


def _fresh(tmp_path, expr, name):
    """The value of ``expr`` computed alone in a new cache."""
    return pl.run(expr, cache=pl.Cache(tmp_path / name))


@pytest.mark.parametrize("backend", ["serial", "threads", "processes"])
def test_a_reader_appending_to_its_input_leaves_its_sibling_right(tmp_path, backend):
    cache = pl.Cache(tmp_path / "cache")
    src = listed(3)
    got = pl.run([appends(src), summed(src), src], cache=cache, backend=backend)
    assert got == [4, 3, [0, 1, 2]]
    # the stored entries are what a fresh computation gives
    RAN.clear()
    assert pl.run([summed(listed(3)), listed(3)], cache=cache) == [3, [0, 1, 2]]
    assert RAN == [], "both were served from the cache"
    assert _fresh(tmp_path, summed(listed(3)), "fresh") == 3


@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_nested_containers_dicts_frames_and_objects_are_isolated(tmp_path, backend):
    cache = pl.Cache(tmp_path / "cache")
    d, f, b = nested(3), frame(4), boxed(5)
    got = pl.run([clobbers_nested(d), reads_nested(d), sets_column(f), frame_total(f),
                  sets_attr(b), box_value(b)], cache=cache, backend=backend)
    assert got == [0, 3 + 3, 7, 6, 0, 5]
    later = pl.Cache(tmp_path / "cache")
    assert pl.run([reads_nested(nested(3)), frame_total(frame(4)), box_value(boxed(5))],
                  cache=later) == [6, 6, 5]
    assert _fresh(tmp_path, reads_nested(nested(3)), "fresh") == 6


def test_the_last_reader_gets_the_value_itself_the_others_copies(tmp_path):
    SEEN.clear()
    b = boxed(1)
    pl.run([box_value(b)], cache=pl.Cache(tmp_path / "one"), backend="serial")
    made = [i for tag, i in SEEN if tag == "made"]
    read = [i for tag, i in SEEN if tag == "read"]
    assert read == made, "a single reader is handed the object itself (no copy)"
    SEEN.clear()
    pl.run([sets_attr(b), box_value(b)], cache=pl.Cache(tmp_path / "two"), backend="serial")
    made = [i for tag, i in SEEN if tag == "made"]
    read = [i for tag, i in SEEN if tag == "read"]
    assert len(read) == 2 and read.count(made[0]) == 1, "one copy for two readers"


def test_an_output_is_never_handed_to_a_reader_itself(tmp_path):
    out = pl.run([boxed(2), sets_attr(boxed(2))], cache=pl.Cache(tmp_path / "c"),
                 backend="serial")
    assert out[0].v == 2, "the value returned for boxed(2) was changed by its reader"


@pytest.mark.parametrize("backend", ["serial", "threads"])
def test_writing_into_an_input_array_fails_that_node_clearly(tmp_path, backend):
    cache = pl.Cache(tmp_path / "cache")
    x = arange(1000)
    with pytest.raises(ValueError) as info:  # the node's own error type, catchable as such
        pl.run([bumps(x), array_total(x)], cache=cache, backend=backend)
    assert isinstance(info.value, NodeError)
    assert "read-only" in str(info.value) and "x = x.copy()" in str(info.value)
    # the sibling computed from the unchanged array (independent branches were kept)
    assert pl.run(array_total(arange(1000)), cache=pl.Cache(tmp_path / "cache")) == 499500.0
    # the same node fails the same way when its input comes from the cache
    with pytest.raises(ValueError, match="read-only"):
        pl.run(bumps(arange(1000)), cache=pl.Cache(tmp_path / "cache"), backend=backend)


def test_a_tuple_of_arrays_reaches_readers_as_read_only_views_without_copies(tmp_path):
    SEEN.clear()
    s = split(5)
    out = pl.run([s, shares(s), shares(s)], cache=pl.Cache(tmp_path / "c"), backend="serial")
    for parts in SEEN:
        assert all(not p.flags.writeable for p in parts)
        assert all(np.shares_memory(p, o) for p, o in zip(parts, out[0]))
    assert all(p.flags.writeable for p in out[0]), "the returned value is left as it was"


def test_tasks_of_one_shipped_batch_do_not_share_an_input():
    shared = [1, 2, 3]
    appender = Call(appends.fn, (pl.graph.Ref("i" * 32),), {}, "a" * 32, "appends",
                    inputs=("i" * 32,))
    reader = Call(summed.fn, (pl.graph.Ref("i" * 32),), {}, "b" * 32, "summed",
                  inputs=("i" * 32,))
    tasks = [Task(appender, {"i" * 32: shared}, return_value=True),
             Task(reader, {"i" * 32: shared}, return_value=True)]
    # one payload, as a backend ships a batch: unpickling gives both tasks one list
    tasks = cloudpickle.loads(cloudpickle.dumps(tasks))
    assert tasks[0].inputs["i" * 32] is tasks[1].inputs["i" * 32]
    receipts = execute_batch(tasks)
    assert [r.value for r in receipts] == [4, 6]


@pytest.mark.parametrize("value", [
    [1, [2, {"a": [3]}]], {"k": {1, 2}}, (1, [2]), np.arange(4, dtype=object),
])
def test_guarded_values_equal_the_original_and_share_nothing_mutable(value):
    g = guarded(value)
    assert pl.hash_value(g) == pl.hash_value(value) if not isinstance(value, np.ndarray) \
        else np.array_equal(g, value)
    if isinstance(value, list):
        g[1].append("x")
        assert "x" not in value[1]
