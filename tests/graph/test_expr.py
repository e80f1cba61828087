"""Components, expressions, keys, binding and argument checks."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
from typing import Literal

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab.errors import ParameterTypeError, SignatureError, UnhashableError


@pl.component
def load(n: int = 4):
    return np.arange(float(n))


@pl.component
def scale(x, factor: float = 2.0, mode: Literal["mul", "add"] = "mul"):
    return x * factor if mode == "mul" else x + factor


@pl.component
def combine(parts: list, weights: dict | None = None):
    return sum(float(p.sum()) for p in parts)


def test_calling_a_component_runs_nothing_and_knows_its_key():
    calls = []

    @pl.component
    def spy(x):
        calls.append(x)
        return x

    e = spy(1)
    assert isinstance(e, pl.Expr)
    assert len(e.key) == 32 and int(e.key, 16) >= 0
    assert calls == []
    assert e.compute(cache=False) == 1 and calls == [1]


def test_binding_normalises_positional_keyword_and_defaults():
    a = scale(load(), 2.0)
    assert a.key == scale(load(), factor=2.0).key == scale(load()).key
    assert a.key == scale(x=load(), mode="mul").key
    assert scale(load(), 3.0).key != a.key


def test_key_depends_on_input_keys():
    assert scale(load(4)).key != scale(load(5)).key
    assert scale(load(4)).inputs[0].key == load(4).key


def test_readable_repr():
    e = scale(scale(load()), factor=5.0)
    assert repr(e) == "scale(scale(load()), factor=5.0)"
    assert "array<float64[3]>" in repr(scale(np.zeros(3)))


def test_exprs_inside_containers_become_edges():
    e = combine([load(2), load(3)], weights={"a": 1})
    assert {i.key for i in e.inputs} == {load(2).key, load(3).key}
    assert e.compute(cache=False) == 1.0 + 3.0


def test_signature_error_names_the_fix():
    with pytest.raises(SignatureError) as info:
        scale(load(), fctor=2.0)
    msg = str(info.value)
    assert "fctor" in msg and "Expected scale(x, factor=2.0, mode='mul')" in msg
    with pytest.raises(TypeError):  # it is a TypeError too
        scale()


def test_annotations_are_checked_for_literals():
    with pytest.raises(ParameterTypeError, match="expected float, received str"):
        scale(load(), factor="big")
    with pytest.raises(ParameterTypeError, match=r"expected one of \['mul', 'add'\]"):
        scale(load(), mode="div")
    scale(load(), factor=2)  # an int is a fine float


def test_unhashable_argument_names_the_argument():
    class Opaque:  # plain instances are keyed by class and state; a lock has no content
        def __init__(self):
            import threading

            self.lock = threading.Lock()

    with pytest.raises(UnhashableError, match="argument 'x' of scale"):
        scale(Opaque())


def test_version_label():
    def raw(x):
        return x

    v1 = pl.component(raw, version="1")
    v2 = pl.component(raw, version="2")
    assert v1(1).key != v2(1).key
    assert pl.component(raw, version="1")(1).key == v1(1).key


def test_pipeline_builds_the_same_graph_as_nesting():
    p = pl.pipeline([load, functools.partial(scale, factor=3.0), scale])
    assert p.key == scale(scale(load(), factor=3.0)).key
    p2 = pl.pipeline([load(7), scale])
    assert p2.key == scale(load(7)).key
    with pytest.raises(ValueError, match="non-empty"):
        pl.pipeline([])
    with pytest.raises(TypeError, match="@component"):
        pl.pipeline([load, lambda x: 3])


def test_identical_subexpressions_are_one_node():
    shared = load(4)
    g = combine([scale(shared), scale(shared, factor=3.0)]).graph
    assert len(g) == 4


def test_keys_are_stable_across_processes(tmp_path):
    mod = tmp_path / "keymod.py"
    mod.write_text(textwrap.dedent("""
        import pylearn_lab as pl
        @pl.component
        def f(a, b=2):
            return a + b
        @pl.component
        def g(x, scale=1.5):
            return x * scale
        EXPR = g(f(1, b=3), scale=2.0)
    """))
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import keymod; print(keymod.EXPR.key)"
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    sys.path.insert(0, str(tmp_path))
    try:
        import keymod

        assert first.stdout.strip() == second.stdout.strip() == keymod.EXPR.key
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("keymod", None)


def test_iterating_an_expr_explains_itself():
    with pytest.raises(TypeError, match="lazy expression"):
        list(load())
