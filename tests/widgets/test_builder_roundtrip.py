"""Round trips: code -> builder -> code, and builder -> JSON -> builder, keep every key."""

from __future__ import annotations

import json

import numpy as np
import pytest

import pylearn_lab.components as lib
from pylearn_lab.errors import GraphError, SpecError, UnknownComponentError
from pylearn_lab.graph import Graph, component
from pylearn_lab.graph.nodes import Ref
from pylearn_lab.widgets.builder_code import model_to_code
from pylearn_lab.widgets.builder_io import model_from_exprs, model_from_json, model_to_json
from pylearn_lab.widgets.builder_model import BuilderModel


@component(category="test-builder")
def offset(x, by: float = 0.5, tags: tuple = ()) -> float:
    """Add an offset."""
    return x + by


@component(category="test-builder")
def stack(items: list, weights=None) -> float:
    """Sum a list of inputs."""
    return float(sum(items))


def iris_pipeline():
    ds = lib.load_iris()
    split = lib.train_test_split(lib.standardize(ds), test_size=0.3, seed=1)
    model = lib.logistic_regression(lib.pca(split, n_components=3), lr=0.05, epochs=20)
    return lib.accuracy(model, lib.pca(split, n_components=3))


def keys_of(code: str) -> list[str]:
    ns: dict = {}
    exec(compile(code, "<to_code>", "exec"), ns)
    out = ns["result"] if "result" in ns else ns["results"]
    return [e.key for e in (out if isinstance(out, list) else [out])]


def test_from_expr_keeps_keys_and_shares_nodes() -> None:
    e = iris_pipeline()
    m = model_from_exprs(e)
    assert m.expr.key == e.key
    assert len(m) == len(e.graph)  # the shared pca node is one builder node
    assert [n.component.rsplit(".", 1)[-1] for n in m].count("pca") == 1
    pca = next(n for n in m if n.component.endswith(".pca"))
    assert pca.params["n_components"] == 3 and isinstance(pca.params["data"], Ref)
    # literals equal to the defaults are left out; differing ones are kept
    split = next(n for n in m if n.component.endswith(".train_test_split"))
    assert split.params == {"data": split.params["data"], "test_size": 0.3, "seed": 1}


def test_to_code_rebuilds_the_same_keys() -> None:
    e = iris_pipeline()
    m = model_from_exprs(e)
    code = model_to_code(m)
    assert "from pylearn_lab.components.preprocessing import pca, standardize" in code
    assert "n_components=3" in code and "epochs=20" in code
    assert keys_of(code) == [e.key]


def test_to_code_with_lists_tuples_arrays_and_several_outputs() -> None:
    a, b = offset(1.0), offset(2.0, by=1.5, tags=("x", 1))
    total = stack([a, b, offset(a)], weights=np.arange(3, dtype=np.float32))
    other = offset(float("inf"))
    m = model_from_exprs([total, other])
    assert m.expr[0].key == total.key and m.expr[1].key == other.key
    code = model_to_code(m)
    assert "results = [" in code and "np.array([0.0, 1.0, 2.0], dtype=np.float32)" in code
    assert "float('inf')" in code
    assert keys_of(code) == [total.key, other.key]


def test_to_code_refuses_an_invalid_graph() -> None:
    m = BuilderModel()
    m.add(offset)
    with pytest.raises(GraphError, match="input 'x' is not connected"):
        model_to_code(m)


def test_json_round_trip_keeps_keys_positions_and_half_built_nodes(tmp_path) -> None:
    e = iris_pipeline()
    m = model_from_exprs(e)
    m.move("n1", 123.0, 456.0)
    loose = m.add(offset)  # not connected yet: still saved and loaded
    text = model_to_json(m)
    back = model_from_json(text)
    assert back.problems().keys() == {loose}
    back.remove(loose)
    assert back.expr.key == e.key
    assert (back.nodes["n1"].x, back.nodes["n1"].y) == (123.0, 456.0)
    assert back.add(offset) == f"n{len(m) + 1}"  # ids continue after the loaded ones


def test_builder_json_is_a_graph_spec() -> None:
    e = iris_pipeline()
    text = model_to_json(model_from_exprs(e))
    assert Graph.from_json(text).outputs == (e.key,)
    # and a plain Graph.to_json() file opens in the builder, laid out and renamed
    m = model_from_json(e.graph.to_json())
    assert m.expr.key == e.key
    assert sorted(m.nodes) == sorted(f"n{i + 1}" for i in range(len(e.graph)))
    assert len({(n.x, n.y) for n in m}) == len(m)


def test_bad_files_say_what_was_expected() -> None:
    with pytest.raises(SpecError, match="not JSON"):
        model_from_json("{nope")
    with pytest.raises(SpecError, match="'pylearn_graph'"):
        model_from_json(json.dumps({"nodes": []}))
    doc = {"pylearn_graph": 1, "nodes": [{"id": "n1", "component": "no.such.thing"}]}
    with pytest.raises(UnknownComponentError, match="no.such.thing"):
        model_from_json(json.dumps(doc))
    doc = {"pylearn_graph": 1, "nodes": [
        {"id": "n1", "component": offset.qualname, "kwargs": {"x": {"$ref": "n9"}}}]}
    with pytest.raises(SpecError, match="n9"):
        model_from_json(json.dumps(doc))
