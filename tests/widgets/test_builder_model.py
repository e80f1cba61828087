"""The builder's model without any widget: editing, validation, building, layout."""

from __future__ import annotations

import sys
from typing import Annotated, Literal

import pytest

from pylearn_lab.errors import CycleError, GraphError, SignatureError
from pylearn_lab.graph import Bounds, component
from pylearn_lab.graph.nodes import Ref
from pylearn_lab.widgets.builder_build import call_arguments
from pylearn_lab.widgets.builder_layout import NODE_W, layered_layout, node_height
from pylearn_lab.widgets.builder_model import BuilderModel


@component(category="test-builder")
def const(v: int = 1) -> int:
    """A constant."""
    return v


# Float bounds on purpose: typing caches ``Annotated[float, Bounds(...)]`` and Bounds(0, 10)
# equals Bounds(0.0, 10.0), so with int bounds this module would get the float metadata of
# pylearn_lab.components (and messages saying [0.0, 10.0]) whenever that was imported first.
@component(category="test-builder")
def combine(a, b, scale: Annotated[float, Bounds(0.0, 10.0)] = 1.0,
            mode: Literal["sum", "diff"] = "sum", flag: bool = False) -> float:
    """Combine two numbers."""
    return (a + b if mode == "sum" else a - b) * scale


@component(category="test-builder")
def gather(*parts, start: int = 0) -> int:
    """Sum any number of inputs."""
    return sum(parts) + start


@component(category="test-builder")
def needs_n(n: int) -> int:
    """Needs a value."""
    return n


@component(category="test-builder")
def posonly(a, b=2, /, c=3) -> int:
    """Positional-only parameters."""
    return a + b + c


def test_add_connect_and_derived_edges() -> None:
    m = BuilderModel()
    a, b, c = m.add(const, {"v": 2}), m.add(const, {"v": 3}), m.add(combine)
    m.connect(a, c, "a")
    edge = m.connect(b, c, "b")
    assert [(e.src, e.dst, e.param) for e in m.edges] == [(a, c, "a"), (b, c, "b")]
    assert edge.id == f"{b}>{c}.b.0"
    assert m.nodes[c].params == {"a": Ref(a), "b": Ref(b)}
    assert m.sinks() == [c]
    assert m.expr.key == combine(const(v=2), const(v=3)).key


def test_connect_never_replaces_an_occupied_input_silently_and_appends_to_varargs() -> None:
    m = BuilderModel()
    a, b, c = m.add(const), m.add(const, {"v": 5}), m.add(combine)
    m.connect(a, c, "a")
    with pytest.raises(GraphError, match="already fed by const \\(n1\\); delete that edge"):
        m.connect(b, c, "a")  # a second edge into the same plain input is refused...
    assert m.nodes[c].params["a"] == Ref(a)
    m.connect(b, c, "a", replace=True)  # ...unless replacing is asked for
    assert m.nodes[c].params["a"] == Ref(b)
    g = m.add(gather)
    m.connect(a, g, "parts")
    m.connect(b, g, "parts")
    assert m.nodes[g].params["parts"] == (Ref(a), Ref(b))
    assert [e.slot for e in m.edges if e.dst == g] == [0, 1]
    assert m.build().exprs[g].key == gather(const(), const(v=5)).key


def test_disconnect_and_remove_drop_only_their_links() -> None:
    m = BuilderModel()
    a, b, g = m.add(const), m.add(const, {"v": 5}), m.add(gather)
    m.connect(a, g, "parts")
    m.connect(b, g, "parts")
    m.disconnect(f"{a}>{g}.parts.0")
    assert m.nodes[g].params["parts"] == (Ref(b),)
    m.remove(b)
    assert b not in m.nodes and m.edges == []
    assert m.nodes[g].params["parts"] == ()
    with pytest.raises(KeyError, match="no edge"):
        m.disconnect("nope")


def test_cycles_unknown_params_and_unknown_nodes_are_refused() -> None:
    m = BuilderModel()
    a, c = m.add(const), m.add(combine)
    c2 = m.add(combine)
    m.connect(a, c, "a")
    m.connect(c, c2, "a")
    with pytest.raises(CycleError, match="loop"):
        m.connect(c2, c, "b")
    with pytest.raises(CycleError):
        m.connect(c, c, "b")
    with pytest.raises(SignatureError, match="no parameter 'bogus'"):
        m.connect(a, c, "bogus")
    with pytest.raises(SignatureError):
        m.set_param(a, "bogus", 1)
    with pytest.raises(KeyError, match="no node 'n99'"):
        m.connect("n99", c, "a")


def test_validation_reports_each_problem_on_its_node_and_blocks_downstream() -> None:
    m = BuilderModel()
    a, c, top = m.add(const), m.add(combine), m.add(combine)
    m.connect(c, top, "a")
    m.connect(a, top, "b")
    m.connect(a, c, "a")
    problems = m.problems()
    assert set(problems) == {c}  # top is blocked by c, not reported twice
    assert [p.param for p in problems[c]] == ["b"]
    assert "not connected" in problems[c][0].message
    assert m.build().blocked == {top: [c]}

    m.connect(a, c, "b")
    m.set_param(c, "scale", 99.0)
    m.set_param(c, "mode", "product")
    m.set_param(a, "v", "three")
    msgs = {k: {p.param: p.message for p in ps} for k, ps in m.problems().items()}
    assert "expected a value in [0.0, 10.0], received 99.0" in msgs[c]["scale"]
    assert "expected one of ['sum', 'diff'], received 'product'" in msgs[c]["mode"]
    assert "expected int, received str" in msgs[a]["v"]
    with pytest.raises(GraphError, match=r"3 problem\(s\) in 2 node\(s\)") as info:
        m.to_exprs()
    assert "Fix them in the inspector" in str(info.value)

    m.set_param(c, "scale", 2.5)
    m.unset_param(c, "mode")
    m.set_param(a, "v", 3)
    assert m.problems() == {}
    assert m.expr.key == combine(combine(const(v=3), const(v=3), scale=2.5), const(v=3)).key


def test_missing_required_literal_and_empty_graph() -> None:
    m = BuilderModel()
    with pytest.raises(GraphError, match="empty"):
        m.to_exprs()
    n = m.add(needs_n)
    assert "required parameter 'n' (int) has no value" in m.problems()[n][0].message
    m.set_param(n, "n", 4)
    assert m.expr.key == needs_n(4).key


def test_several_sinks_give_a_list() -> None:
    m = BuilderModel()
    a = m.add(const)
    m.add(needs_n, {"n": 1})
    out = m.expr
    assert isinstance(out, list) and [e.key for e in out] == [const().key, needs_n(1).key]
    assert m.sinks() == [a, "n2"]


def test_call_arguments_respects_positional_only_and_defaults() -> None:
    args, kwargs = call_arguments(posonly, {"a": 1, "c": 5})
    assert (args, kwargs) == ((1,), {"c": 5})
    args, kwargs = call_arguments(posonly, {"a": 1})
    assert posonly(*args, **kwargs).key == posonly(1).key
    args, kwargs = call_arguments(gather, {"parts": (1, 2), "start": 3})
    assert (args, kwargs) == ((1, 2), {"start": 3})


def test_ports_are_data_inputs_and_linked_params() -> None:
    m = BuilderModel()
    a, c, g = m.add(const), m.add(combine), m.add(gather)
    assert m.ports(c) == ["a", "b"] and m.ports(g) == ["parts"] and m.ports(a) == []
    n = m.add(needs_n)
    m.connect(a, n, "n")  # an int parameter fed by an edge gets a port too
    assert m.ports(n) == ["n"]


def test_listeners_hear_the_kind_of_change() -> None:
    m = BuilderModel()
    heard: list[str] = []
    m.listen(heard.append)
    a = m.add(const)
    m.set_param(a, "v", 2)
    m.move(a, 10, 20)
    m.remove(a)
    assert heard == ["structure", "params", "layout", "structure"]


def test_layered_layout_keeps_30_nodes_apart_and_left_to_right() -> None:
    m = BuilderModel()
    sources = [m.add(const, {"v": i}) for i in range(10)]
    mids = []
    for i in range(10):
        c = m.add(combine)
        m.connect(sources[i], c, "a")
        m.connect(sources[(i + 1) % 10], c, "b")
        mids.append(c)
    for i in range(10):
        g = m.add(gather)
        m.connect(mids[i], g, "parts")
        m.connect(mids[(i + 3) % 10], g, "parts")
    m.auto_layout()
    nodes = list(m)
    assert len(nodes) == 30
    for e in m.edges:  # every edge points right
        assert m.nodes[e.dst].x > m.nodes[e.src].x
    boxes = [(n.x, n.y, n.x + NODE_W, n.y + node_height(len(m.ports(n.id)))) for n in nodes]
    for i, p in enumerate(boxes):
        for q in boxes[i + 1:]:
            overlap = p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3]
            assert not overlap
    assert sorted({n.x for n in nodes}) == [40.0, 40.0 + NODE_W + 56, 40.0 + 2 * (NODE_W + 56)]


def test_layout_orders_columns_to_follow_their_inputs() -> None:
    pos = layered_layout({"a": [], "b": [], "x": ["b"], "y": ["a"]})
    # x reads b and y reads a: the second column mirrors the first, so edges do not cross
    assert (pos["y"][1] < pos["x"][1]) == (pos["a"][1] < pos["b"][1])


def test_model_does_not_import_ipywidgets() -> None:
    import subprocess

    code = ("import sys, pylearn_lab, pylearn_lab.widgets.builder_model, "
            "pylearn_lab.widgets.builder_io, pylearn_lab.widgets.builder_code; "
            "print('ipywidgets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
