"""Graph structure, validation, replace, and the JSON spec."""

from __future__ import annotations

import pytest

import pylearn_lab as pl
from pylearn_lab.errors import CycleError, SpecError, UnknownComponentError, UnresolvedRefError
from pylearn_lab.graph import Graph
from pylearn_lab.graph.nodes import Call, Ref


@pl.component
def dataset(name: str = "a", size: int = 3):
    return list(range(size)) if name == "a" else [10 * i for i in range(size)]


@pl.component
def sgd(data, lr: float = 0.1):
    return [x * lr for x in data]


@pl.component
def adam(data, lr: float = 0.1):
    return [x * lr * 2 for x in data]


@pl.component
def score(model, data):
    return sum(model) + len(data)


def test_toposort_puts_inputs_first():
    d = dataset()
    g = score(sgd(d), d).graph
    order = g.toposort()
    assert order.index(d.key) < order.index(sgd(d).key) < order.index(g.outputs[0])
    assert len(g) == 3
    assert set(g.dependencies(g.outputs[0])) == {sgd(d).key, d.key}


def test_replace_swaps_a_subgraph_without_touching_the_original():
    d = dataset()
    exp = score(sgd(d), d)
    swapped = exp.replace({sgd(d): adam(d)})
    assert swapped.key == score(adam(d), d).key
    assert exp.key == score(sgd(d), d).key
    other_data = exp.replace({d: dataset("b")})
    assert other_data.key == score(sgd(dataset("b")), dataset("b")).key
    assert other_data.compute(cache=False) == score(sgd(dataset("b")), dataset("b")).compute(cache=False)
    g2 = exp.graph.replace({sgd(d): adam(d, lr=0.5)})
    assert g2.outputs[0] == score(adam(d, lr=0.5), d).key


def test_unresolved_ref_and_cycle_are_clear_errors():
    a = Call(len, (Ref("b" * 32),), {}, "a" * 32, "a")
    with pytest.raises(UnresolvedRefError, match="not in the graph"):
        Graph({"a" * 32: a})
    b = Call(len, (Ref("a" * 32),), {}, "b" * 32, "b")
    with pytest.raises(CycleError, match="cycle"):
        Graph({"a" * 32: a, "b" * 32: b})


def test_json_round_trip_keeps_keys():
    d = dataset("b", size=4)
    g = score(sgd(d, lr=0.5), d).graph
    text = g.to_json()
    g2 = Graph.from_json(text)
    assert set(g2) == set(g) and g2.outputs == g.outputs


def test_bad_json_specs():
    with pytest.raises(SpecError, match="not JSON"):
        Graph.from_json("{nope")
    with pytest.raises(SpecError, match="pylearn_graph"):
        Graph.from_json('{"nodes": []}')
    spec = '{"pylearn_graph": 1, "nodes": [{"id": "x", "component": "no_such_thing"}]}'
    with pytest.raises(UnknownComponentError, match="no_such_thing"):
        Graph.from_json(spec)
    cyc = ('{"pylearn_graph": 1, "nodes": ['
           '{"id": "x", "component": "sgd", "args": [{"$ref": "y"}]},'
           '{"id": "y", "component": "sgd", "args": [{"$ref": "x"}]}]}')
    with pytest.raises(CycleError):
        Graph.from_json(cyc)


def test_arrays_cannot_go_into_json_specs():
    import numpy as np

    g = sgd(np.zeros(3)).graph
    with pytest.raises(SpecError, match="JSON-like literals"):
        g.to_json()
