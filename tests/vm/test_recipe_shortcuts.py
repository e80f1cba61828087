"""``recipe()`` after session 4's shortcuts (the component's head built once per identity
object, parameters bound by the keys' binder): the same record as the inspect-based
recipe it replaced, for every kind of signature and argument, and never another
component's (or an older definition's) head.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pylearn_lab as pl
from pylearn_lab.cache.records import summarise_param
from pylearn_lab.graph.fresh import check_fresh
from pylearn_lab.graph.nodes import Ref, iter_refs
from pylearn_lab.vm.recipe import recipe
from pylearn_lab.errors import StaleKeyError


def _reference(expr):
    """The recipe as it was before the shortcuts (inspect binds, every value summarised)."""
    comp = expr.component
    ident = comp.identity()
    call = expr.call
    params, inputs = {}, {}
    if comp.signature is not None:
        try:
            bound = comp.signature.bind(*call.args, **call.kwargs)
            bound.apply_defaults()
            named = dict(bound.arguments)
        except TypeError:
            named = {f"arg{i}": a for i, a in enumerate(call.args)} | dict(call.kwargs)
    else:
        named = {f"arg{i}": a for i, a in enumerate(call.args)} | dict(call.kwargs)
    for name, value in named.items():
        if name in getattr(comp, "ignore", ()):
            continue
        refs = list(iter_refs(value))
        if isinstance(value, Ref):
            inputs[name] = value.key
        elif refs:
            inputs[name] = [r.key for r in refs]
        else:
            params[name] = summarise_param(value)
    return {"func": comp.qualname, "func_digest": ident.digest,
            "version": comp.version or ident.digest[:12], "label": comp.name,
            "params": params, "inputs": inputs, "func_parts": ident.parts}


@pl.component
def source(n: int = 3) -> int:
    return n


@pl.component
def plain(a, b: float = 0.5, c: str = "x"):
    return a


@pl.component
def kwonly(a, *, scale: float = 2.0, tag=None):
    return a


@pl.component
def variadic(a, *rest, **extra):
    return a


@pl.component(ignore=["verbose"])
def quiet(a, verbose: bool = False):
    return a


@pl.component(version="v7")
def labelled(a=1):
    return a


def _same(expr) -> None:
    got, want = recipe(expr), _reference(expr)
    assert got == want
    assert list(got) == list(want)  # the same column order too
    # NaN never equals itself: compare the JSON texts the index stores
    from pylearn_lab.cache.records import dumps
    assert dumps(got["params"]) == dumps(want["params"])


_scalar = (st.none() | st.booleans() | st.integers() | st.text(max_size=5)
           | st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=200, deadline=None)
@given(_scalar, _scalar, st.booleans())
def test_plain_and_keyword_only_calls_give_the_reference_record(x, y, positional) -> None:
    for e in (plain(x), plain(x, 0.25), plain(x, c="y"), kwonly(x), kwonly(x, tag=y)):
        _same(e)
    e = plain(x, 1.5, "z") if positional else plain(a=x, b=1.5, c="z")
    _same(e)


@pytest.mark.parametrize("make", [
    lambda: plain(source()),
    lambda: plain([source(), source(4)]),
    lambda: plain({"k": source()}, b=2),
    lambda: plain(np.arange(3.0)),
    lambda: plain(np.float64(2.5)),
    lambda: plain(True, b=float("nan")),
    lambda: plain((1, "a", None)),
    lambda: kwonly(source(), scale=math.inf),
    lambda: variadic(1, 2, 3, k=4),
    lambda: variadic(source(), x=source(5)),
    lambda: quiet(1, verbose=True),
    lambda: labelled(),
])
def test_every_kind_of_call_gives_the_reference_record(make) -> None:
    _same(make())


def test_a_redefined_function_never_gets_the_old_head() -> None:
    def f(a):
        return a

    comp = pl.component(f)
    first = recipe(comp(1))

    def f(a):  # noqa: F811 -- the notebook cell run again with other code
        return a + 1

    comp2 = pl.component(f)
    second = recipe(comp2(1))
    assert first["func_digest"] != second["func_digest"]
    assert second == _reference(comp2(1))
    assert recipe(comp(1)) == first  # the old component still has its own


def test_a_helper_edit_changes_the_head_and_stops_a_stale_node() -> None:
    ns: dict = {}
    exec("def helper(x):\n    return x\n\ndef g(x):\n    return helper(x)\n", ns)
    comp = pl.component(ns["g"])
    built = comp(2)
    before = recipe(built)
    exec("def helper(x):\n    return x * 10\n", ns)  # redefined after the Expr was built
    with pytest.raises(StaleKeyError):
        check_fresh(built)
    fresh = comp(2)
    after = recipe(fresh)
    assert after["func_digest"] != before["func_digest"]
    assert after == _reference(fresh)


def test_a_mutated_argument_stops_the_node_before_any_recipe() -> None:
    data = np.ones(4)
    e = plain(data)
    check_fresh(e)
    data[0] = 5.0
    with pytest.raises(StaleKeyError):
        check_fresh(e)
