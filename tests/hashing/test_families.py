"""The researcher's objects keyed by content: equal values share a key, different ones do not."""

from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import io
import random
import socket
import sqlite3
import threading
import types
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd
from keyed import TALLY, assert_kept_apart, through_cache

import pylearn_lab as pl
from pylearn_lab.errors import UnhashableError
from pylearn_lab.hashing import hash_value

H = hash_value


def distinct(*values) -> bool:
    return len({H(v) for v in values}) == len(values)


# --------------------------------------------------------------------------- pandas


def test_pandas_is_found_by_isinstance_on_pandas_3():
    from pylearn_lab.hashing.frames import feed_pandas
    from pylearn_lab.hashing.values import _HANDLERS

    df = pd.DataFrame({"a": [1]})
    H(df)
    assert _HANDLERS[type(df)] is feed_pandas and type(df).__module__.startswith("pandas")


def test_dataframe_labels_order_names_attrs_and_index():
    base = pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]})
    assert H(base) == H(base.copy()) == H(pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]}))
    with_attrs = base.copy()
    with_attrs.attrs["source"] = "lab"
    assert distinct(base, base[["b", "a"]], base.rename(columns={"a": 1}),
                    base.rename(columns={"a": "1"}), base.set_axis([10, 11]),
                    base.rename_axis("row"), with_attrs, base.astype({"a": "int32"}),
                    base.astype({"a": "Int64"}))
    assert distinct(pd.Series([1, 2], name="x"), pd.Series([1, 2], name="y"), pd.Series([1, 2]),
                    pd.Series([1, 2], name=1), pd.Series([1, 2], name="1"))


def test_indexes():
    assert distinct(pd.RangeIndex(3), pd.RangeIndex(0, 3, 1, name="r"), pd.Index([0, 1, 2]),
                    pd.RangeIndex(1, 4), pd.Index([0, 1, 2], dtype="float64"))
    mi = pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"])
    assert H(mi) == H(pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"]))
    assert distinct(mi, mi.set_names(["k", "m"]), pd.MultiIndex.from_tuples([("a", 1), ("b", 3)]))


def test_extension_arrays_and_scalars():
    cat = pd.Categorical(["a", "b", "a"])
    assert distinct(cat, pd.Categorical(["a", "b", "a"], ordered=True),
                    pd.Categorical(["a", "b", "a"], categories=["b", "a"]),
                    pd.Series(["a", "b", "a"]))
    assert H(pd.array([1, None], dtype="Int64")) == H(pd.array([1, None], dtype="Int64"))
    assert distinct(pd.array([1, None], dtype="Int64"), pd.array([1, 0], dtype="Int64"),
                    pd.array([1, None], dtype="Float64"), pd.array([True, None], dtype="boolean"),
                    pd.array(["x", None], dtype="string"), pd.array(["x", "y"], dtype="string"))
    tz = pd.Series(pd.date_range("2024-01-01", periods=3, tz="Europe/Paris"))
    assert distinct(tz, tz.dt.tz_convert("Europe/Berlin"), tz.dt.tz_convert("UTC"), tz.dt.tz_localize(None))
    assert distinct(pd.period_range("2024-01", periods=3, freq="M"),
                    pd.period_range("2024-01", periods=3, freq="D"))
    assert distinct(pd.interval_range(0, 3), pd.interval_range(0, 3, closed="left"))
    assert distinct(pd.NA, pd.NaT, None, np.nan, 1.0)
    assert distinct(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-01", tz="UTC"),
                    pd.Timestamp("2024-01-01 00:00:01"), pd.Timedelta("1s"), pd.Timedelta("2s"),
                    pd.Period("2024-01", "M"), pd.Interval(0, 1), pd.Interval(0, 1, closed="left"))
    assert distinct(pd.offsets.Day(1), pd.offsets.Day(2), pd.offsets.MonthEnd(1), pd.offsets.BDay(1))


def test_object_and_mixed_columns():
    a = pd.DataFrame({"o": pd.Series(["x", 1, None], dtype=object)})
    b = pd.DataFrame({"o": pd.Series(["x", "1", None], dtype=object)})
    assert distinct(a, b)
    assert H(a) == H(a.copy())


@settings(max_examples=40, deadline=None)
@given(hpd.data_frames([hpd.column("i", dtype=int), hpd.column("f", dtype=float),
                        hpd.column("s", elements=st.text(max_size=5))],
                       index=hpd.range_indexes(max_size=12)))
def test_dataframes_equal_copies_share_keys_and_any_edit_changes_them(df):
    assert H(df) == H(df.copy(deep=True))
    if len(df):
        edited = df.copy()
        edited.iloc[0, 2] = str(edited.iloc[0, 2]) + "!"
        assert H(edited) != H(df)


# --------------------------------------------------------------------------- other columnar libraries


def test_pyarrow_tables_arrays_and_chunking():
    pa = pytest.importorskip("pyarrow")
    t = pa.table({"a": [1, 2, 3], "s": ["x", "y", None]})
    assert H(t) == H(pa.table({"a": [1, 2, 3], "s": ["x", "y", None]}))
    rechunked = pa.Table.from_batches(t.to_batches(max_chunksize=1))
    assert H(t) == H(rechunked)
    assert distinct(t, t.rename_columns(["b", "s"]), pa.table({"a": [1, 2, 4], "s": ["x", "y", None]}),
                    pa.array([1, 2, 3]), pa.array([1, 2, 3], type=pa.int32()), t.to_batches()[0])
    arr = pa.array([0, 1, 2, 3])
    assert H(arr.slice(1, 2)) == H(pa.array([1, 2]))


def test_polars_frames_and_series():
    pl_ = pytest.importorskip("polars")
    df = pl_.DataFrame({"a": [1, 2], "s": ["x", "y"]})
    assert H(df) == H(pl_.DataFrame({"a": [1, 2], "s": ["x", "y"]}))
    assert distinct(df, df.rename({"a": "b"}), pl_.DataFrame({"a": [1, 3], "s": ["x", "y"]}),
                    df["a"], df["a"].alias("z"), df.to_pandas())
    with pytest.raises(UnhashableError, match="collect"):
        H(df.lazy())


def test_scipy_sparse_every_format_shape_counts():
    sp = pytest.importorskip("scipy.sparse")
    dense = np.array([[0, 1.0, 0], [2.0, 0, 0]])
    for fmt in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok"):
        m = sp.csr_matrix(dense).asformat(fmt)
        assert H(m) == H(sp.csr_matrix(dense).asformat(fmt)), fmt
        other = sp.csr_matrix(dense * 2).asformat(fmt)
        assert H(m) != H(other), fmt
    a = sp.csr_matrix(dense)
    assert distinct(a, sp.csr_matrix((a.data, a.indices, a.indptr), shape=(2, 4)), a.tocsc(),
                    sp.csr_array(dense), dense)
    unsorted = sp.coo_matrix(([1.0, 2.0], ([1, 0], [0, 1])), shape=(2, 3))
    assert H(unsorted.tocsr()) == H(sp.csr_matrix(unsorted.toarray()))


def test_xarray_when_installed():
    xr = pytest.importorskip("xarray")
    a = xr.DataArray(np.arange(3), dims=["x"], coords={"x": [1, 2, 3]}, name="v")
    assert H(a) == H(a.copy()) and distinct(a, a.rename("w"), a.assign_coords(x=[4, 5, 6]),
                                            a.assign_attrs(units="m"), a + 1, a.values)
    ds = xr.Dataset({"v": a, "w": a * 2})
    assert H(ds) == H(ds.copy(deep=True))
    assert distinct(ds, xr.Dataset({"v": a}), ds.assign_attrs(run=1), ds.rename({"w": "z"}))


# --------------------------------------------------------------------------- random state


def test_random_state_by_state_and_as_a_default(tmp_path):
    assert H(random.Random(1)) == H(random.Random(1)) != H(random.Random(2))
    r = random.Random(1)
    r.random()
    assert H(r) != H(random.Random(1))
    assert distinct(np.random.RandomState(0), np.random.RandomState(1), np.random.default_rng(0),
                    np.random.default_rng(1), np.random.PCG64(0), np.random.MT19937(0),
                    np.random.SeedSequence(0), np.random.SeedSequence(1))
    g = np.random.default_rng(0)
    assert H(g) == H(np.random.default_rng(0))
    g.random()
    assert H(g) != H(np.random.default_rng(0))

    @pl.component
    def draw(n: int, rng=np.random.default_rng(0)):
        TALLY.tick()
        return np.random.default_rng(rng.bit_generator.state["state"]["state"]).random(n)

    c = pl.Cache(tmp_path)
    out, n = through_cache(c, draw(3))
    assert n == 1
    again, n = through_cache(c, draw(3))
    assert n == 0 and np.array_equal(out, again)


# --------------------------------------------------------------------------- plain objects


@dataclasses.dataclass
class Cfg:
    lr: float
    layers: tuple = (8, 8)
    cache: dict = dataclasses.field(default_factory=dict, init=False)
    later: int = dataclasses.field(init=False)


class Point(NamedTuple):
    x: int
    y: int


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b=None):
        self.a = a
        if b is not None:
            self.b = b


class WithState:
    def __init__(self, v):
        self.v = v
        self.scratch = object()  # not part of the state below

    def __getstate__(self):
        return {"v": self.v}


class Reduced:
    def __init__(self, v):
        self.v = v

    def __reduce__(self):
        return (Reduced, (self.v,))


def test_dataclasses_attrs_namedtuples_and_namespaces():
    attr = pytest.importorskip("attr")

    @attr.s(auto_attribs=True)
    class A:
        x: int
        y: str = "a"

    assert H(Cfg(0.1)) == H(Cfg(0.1)) and distinct(Cfg(0.1), Cfg(0.2), Cfg(0.1, (4,)))
    c = Cfg(0.1)
    c.later = 5  # a field without a value until now
    assert H(c) != H(Cfg(0.1))
    assert H(A(1)) == H(A(1)) and distinct(A(1), A(2), A(1, "b"))
    assert distinct(Point(1, 2), (1, 2), Point(2, 1))
    assert distinct(types.SimpleNamespace(a=1), types.SimpleNamespace(a=2), argparse.Namespace(a=1), {"a": 1})
    assert H(argparse.Namespace(a=1, b=2)) == H(argparse.Namespace(b=2, a=1))
    assert distinct(collections.deque([1, 2]), collections.deque([1, 2], maxlen=5), [1, 2],
                    collections.deque([2, 1]))


def test_partial_and_toolz():
    toolz = pytest.importorskip("toolz")

    def add(a, b):
        return a + b

    assert distinct(functools.partial(add, 1), functools.partial(add, 2), functools.partial(add, b=1))
    assert distinct(toolz.curry(add)(1), toolz.curry(add)(2), toolz.compose(abs, add),
                    toolz.compose(str, add))
    assert H(toolz.curry(add)(1)) == H(toolz.curry(add)(1))


def test_plain_instances_by_class_and_state(tmp_path):
    assert H(Slotted(1)) == H(Slotted(1)) and distinct(Slotted(1), Slotted(2), Slotted(1, 2))
    assert H(WithState(1)) == H(WithState(1)) and distinct(WithState(1), WithState(2))
    assert H(Reduced(1)) == H(Reduced(1)) and distinct(Reduced(1), Reduced(2))

    class Box:
        def __init__(self, v):
            self.v = v

    class Box2:
        def __init__(self, v):
            self.v = v

        def get(self):
            return self.v

    assert distinct(Box(1), Box(2), Box2(1))

    @pl.component
    def unbox(b):
        TALLY.tick()
        return b.v

    assert_kept_apart(pl.Cache(tmp_path), unbox, lambda b: b.v, Box(1), Box(2))


@pytest.mark.parametrize("make, word", [
    (lambda: io.StringIO("x"), "file"),
    (lambda: open(__file__), "file"),
    (threading.Lock, "lock"),
    (threading.Event, "lock"),
    (lambda: socket.socket(), "socket"),
    (lambda: (i for i in range(3)), "generator"),
    (lambda: sqlite3.connect(":memory:"), "connection"),
    (object, "identity"),
])
def test_only_the_non_deterministic_is_refused_naming_the_argument(make, word):
    obj = make()
    try:
        @pl.component
        def use(data):
            return data

        with pytest.raises(UnhashableError) as info:
            use({"inner": [obj]})
        msg = str(info.value)
        assert "argument 'data' of use()['inner'][0]" in msg and word in msg
    finally:
        close = getattr(obj, "close", None)
        if close is not None:
            close()
