"""The one-pass key of a call of plain scalars is byte for byte the streaming key.

``build_expr`` keys a call whose arguments are all exact ``None``/``bool``/``int``/
``float``/``str`` values or Exprs by joining their bytes into one buffer
(``_build_plain``); everything else streams through ``feed_value``
(``_build_general``). These tests compute both for the same call and require the
same key, the same Call and the same edges -- and check that what must not take
the shortcut (subclasses, replaced handlers, containers) does not.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hashing"))
from keyed import TALLY, through_cache

import pylearn_lab as pl
from pylearn_lab.graph import expr as E
from pylearn_lab.graph.params import Bounds
from pylearn_lab.hashing import values as V


@pl.component(ignore=["verbose"])
def f(a, b: float = 1.0, c: int = 2, *, d=None, e: str = "x", verbose: bool = False):
    TALLY.tick()
    return (a, b, c, d, e)


@pl.component
def src(x):
    TALLY.tick()
    return x


def general(comp, args, kwargs):
    """The streaming path for the same call: the reference the one-pass key must equal."""
    binder = E._binder(comp)
    return E._build_general(comp, comp.identity(), binder, binder.bind(args, kwargs), args, kwargs)


def plain(comp, args, kwargs):
    binder = E._binder(comp)
    out = E._build_plain(comp, comp.identity().digest, binder, binder.bind(args, kwargs).values(),
                         (args, kwargs))
    assert out is not None, "this call should take the one-pass path"
    return out


def same(a, b):
    assert a.key == b.key
    assert a.call.args == b.call.args and a.call.kwargs == b.call.kwargs
    assert [type(x) for x in a.call.args] == [type(x) for x in b.call.args]
    assert a.call.inputs == b.call.inputs and a.inputs == b.inputs


scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0]),
    st.text(), st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=scalars, b=st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False)),
       c=st.integers(-10**6, 10**6), d=scalars, e=st.text(), verbose=st.booleans(),
       as_kw=st.booleans())
def test_one_pass_key_equals_streaming_key(a, b, c, d, e, verbose, as_kw):
    args, kwargs = ((a,), {"b": b, "c": c}) if as_kw else ((a, b, c), {})
    kwargs.update(d=d, e=e, verbose=verbose)
    same(plain(f, args, kwargs), general(f, args, kwargs))
    assert f(*args, **kwargs).key == general(f, args, kwargs).key


@pl.component(ignore=["quiet"])
def g(a, b: float, c: int = 3, quiet=False):
    TALLY.tick()
    return (a, b, c)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=scalars, b=st.one_of(st.integers(-10**6, 10**6), st.floats()), c=st.integers(),
       quiet=scalars, expr_a=st.booleans())
def test_all_positional_shortcut_equals_streaming_and_bound_keys(a, b, c, quiet, expr_a):
    # every parameter passed positionally skips bind(); the key must be the bound call's
    a = src(a) if expr_a else a
    e = g(a, b, c, quiet)
    assert e.key == g(a, b=b, c=c, quiet=quiet).key == general(g, (a, b, c, quiet), {}).key
    same(e, general(g, (a, b, c, quiet), {}))
    assert e.call.args == g(a, b, c=c, quiet=quiet).call.args


def test_all_positional_shortcut_streams_what_it_cannot_encode():
    e = g([1, 2], 1.0, 3, (4,))
    assert e.key == general(g, ([1, 2], 1.0, 3, (4,)), {}).key
    assert e.key == g([1, 2], 1.0, c=3, quiet=(4,)).key == g([1, 2], 1, 3).key
    assert e.key != g([1, 3], 1.0, 3, (4,)).key
    with pytest.raises(pl.errors.ParameterTypeError):
        g(1, "not a float", 3, None)


@settings(max_examples=100, deadline=None)
@given(x=scalars, y=scalars)
def test_exprs_as_arguments_key_as_their_refs(x, y):
    up = src(x)
    args = (up, 1.5, 3)
    kwargs = {"d": up, "e": "z"}
    same(plain(f, args, kwargs), general(f, args, kwargs))
    e2 = f(src(y), d=src(x))
    same(e2, general(f, (src(y),), {"d": src(x)}))
    assert len(e2.inputs) == (1 if src(x).key == src(y).key else 2)


def test_one_pass_keys_separate_what_must_differ():
    keys = {f(v).key for v in (1, 1.0, True, "1", None, 0.0, -0.0, 2**63, 2**64, -(2**63) - 1)}
    assert len(keys) == 10
    assert f(1, 2).key == f(1, 2.0).key  # b: float -- the annotation converts, as before
    assert f(1, verbose=True).key == f(1).key  # ignored
    assert f(1, e="x").key == f(1).key and f(1, e="y").key != f(1).key


class MyInt(int):
    pass


class MyStr(str):
    pass


class Colour(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize("odd, plain_value", [(MyInt(1), 1), (MyStr("a"), "a"), (Colour.RED, 1)])
def test_subclasses_do_not_take_the_shortcut(odd, plain_value):
    binder = E._binder(f)
    assert E._build_plain(f, f.identity().digest, binder, binder.bind((odd,), {}).values(),
                          ((odd,), {})) is None
    assert f(odd).key != f(plain_value).key
    assert f(odd).key == general(f, (odd,), {}).key


def test_containers_and_arrays_take_the_streaming_path():
    import numpy as np

    for value in ([1], (1,), {"a": 1}, np.arange(3), b"x", 1j):
        binder = E._binder(f)
        assert E._build_plain(f, f.identity().digest, binder, binder.bind((value,), {}).values(),
                              ((value,), {})) is None
        assert f(value).key == general(f, (value,), {}).key


def test_a_replaced_handler_is_honoured(monkeypatch):
    before = f(7).key
    monkeypatch.setitem(V._HANDLERS, int, lambda d, o, p: d.update(b"other" + bytes([o])))
    binder = E._binder(f)
    assert E._build_plain(f, f.identity().digest, binder, binder.bind((7,), {}).values(),
                          ((7,), {})) is None
    assert f(7).key != before
    monkeypatch.undo()
    assert f(7).key == before


def test_one_pass_keys_hit_and_miss_through_the_cache(tmp_path):
    cache = pl.Cache(tmp_path)
    out, n = through_cache(cache, f(1, 2, 3, d="q"))
    assert out == (1, 2.0, 3, "q", "x") and n == 1
    out, n = through_cache(cache, f(1, b=2.0, c=3, d="q"))
    assert n == 0
    out, n = through_cache(cache, f(1, 2, 4, d="q"))
    assert n == 1
    cache.close()


def test_checks_the_shortcut_skips_are_still_made():
    @pl.component
    def h(n: Annotated[int, Bounds(1, 5)] = 2, s: Literal["a", "b"] = "a",
          o: int | None = None, flag: bool = False, x: float = 1.0):
        return n

    with pytest.raises(pl.errors.ParameterTypeError):
        h(9)  # bounds: an int is not passed through unchecked
    with pytest.raises(pl.errors.ParameterTypeError):
        h(2, "c")  # choices of a str
    with pytest.raises(pl.errors.ParameterTypeError):
        h(2, "a", "not an int")
    with pytest.raises(pl.errors.ParameterTypeError):
        h(2, "a", None, 1)  # bool: an int is refused
    assert h(2, "a", None, True, 1).call.args == (2, "a", None, True, 1.0)  # int -> float
    assert h(2, "a", None, True, 1).key == h(2, "a", None, True, 1.0).key
    assert h(2.0).key == h(2).key and type(h(2.0).call.args[0]) is int
    for args in [(3, "b", 4, True, 2.5), (1,), (5, "a", None)]:
        assert h(*args).key == general(h, args + h(*args).call.args[len(args):], {}).key
