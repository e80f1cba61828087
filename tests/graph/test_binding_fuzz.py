"""Component calls with arbitrary arguments give an Expr or a clear PylearnError, nothing else.

Issue 12 counted 89 unclear errors in 1,500 component calls; the binding and keying
half of that is here: any argument structure (deep, self-referencing, masked arrays,
odd objects, wrong names, wrong counts) either builds an expression or raises an
error from the one tree whose message says what was expected and what was received.
"""

from __future__ import annotations

import re
import threading
from typing import Annotated, Literal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pylearn_lab as pl
from pylearn_lab.errors import PylearnError
from pylearn_lab.graph.params import Bounds


@pl.component
def model(data, n: Annotated[int, Bounds(1, 50)] = 2, C: float = 1.0,
          kind: Literal["a", "b"] = "a", flag: bool = False, *, opt: int | None = None):
    return data


@pl.component
def loose(*args, **kwargs):
    return args, kwargs


def _self_ref(items):
    out = list(items)
    out.append(out)
    return out


def _deep(depth):
    out: list = []
    cur = out
    for _ in range(depth):
        nxt: list = []
        cur.append(nxt)
        cur = nxt
    return out


arrays = hnp.arrays(
    dtype=st.one_of(hnp.integer_dtypes(), hnp.floating_dtypes(), hnp.complex_number_dtypes(),
                    hnp.datetime64_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes(),
                    st.just(np.dtype("O")), st.just(np.dtype([("a", "u1"), ("b", "f8")]))),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
masked = arrays.flatmap(lambda a: st.builds(
    lambda m: np.ma.array(a, mask=m), hnp.arrays(np.bool_, a.shape)))
odd = st.sampled_from([threading.Lock(), object(), (i for i in range(2)), float("nan"), 2**100,
                       range(2**70), Ellipsis, slice(1, None), np.float64("inf"), b"\x00", 1j,
                       np.int64(7), np.bool_(True), np.datetime64("NaT")])
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4),
                   st.binary(max_size=4), arrays, masked, odd)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), inner, max_size=3),
                            st.frozensets(st.integers(), max_size=3),
                            st.lists(inner, max_size=2).map(_self_ref),
                            st.integers(2_000, 12_000).map(_deep)),
    max_leaves=8)
names = st.sampled_from(["data", "n", "C", "kind", "flag", "opt", "other", "x"])


def _clear(exc: BaseException) -> bool:
    msg = str(exc)
    return bool(re.search(r"expected|Expected", msg)) and len(msg) > 40


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(st.lists(values, max_size=4), st.dictionaries(names, values, max_size=4),
       st.sampled_from([model, loose]))
def test_any_call_builds_or_raises_a_clear_pylearn_error(args, kwargs, comp):
    try:
        e = comp(*args, **kwargs)
    except PylearnError as exc:
        assert _clear(exc), f"unclear message: {exc}"
        return
    assert len(e.key) == 32
    e2 = comp(*args, **kwargs)  # the same arguments, the same key
    assert e2.key == e.key
