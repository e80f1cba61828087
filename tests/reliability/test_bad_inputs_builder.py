"""Bad inputs to the graph builder (its Python API: what the mouse does, method by method)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from pylearn_lab import errors as E
from pylearn_lab.graph.nodes import Ref
from pylearn_lab.widgets import GraphBuilder

from .bad_inputs import Case, rel_pick, rel_scale
from .test_bad_inputs import check

FIX = r"Fix them in the inspector \(or with set_param/connect\), then run again"


def _two_chained() -> tuple[GraphBuilder, str, str]:
    b = GraphBuilder(cache=False)
    n1 = b.add(rel_scale, x=1)
    n2 = b.add(rel_scale)
    b.connect(n1, n2, "x")
    return b, n1, n2


def _loop(ctx: Any) -> Any:
    b, n1, n2 = _two_chained()
    return b.connect(n2, n1, "x")


def _missing_input(ctx: Any) -> Any:
    b = GraphBuilder(cache=False)
    b.add(rel_scale)  # x is required and nothing feeds it
    return b.run(wait=True)


def _invalid_value(ctx: Any) -> Any:
    b = GraphBuilder(cache=False)
    b.set_param(b.add(rel_pick), "n", "three")  # kept, drawn as invalid, blocks the run
    return b.run(wait=True)


def _load(text: str):
    def load(ctx: Any) -> Any:
        path = ctx / "graph.json"
        path.write_text(text)
        return GraphBuilder.load(path, cache=False)

    return load


def _unknown_port(ctx: Any) -> Any:
    b = GraphBuilder(cache=False)
    return b.connect(b.add(rel_scale, x=1), b.add(rel_scale), "nope")


def _unknown_param(ctx: Any) -> Any:
    b = GraphBuilder(cache=False)
    return b.set_param(b.add(rel_pick), "bogus", 1)


def _link_as_value(ctx: Any) -> Any:
    b = GraphBuilder(cache=False)
    return b.set_param(b.add(rel_scale), "x", Ref("n1"))


def _duplicate_id(ctx: Any) -> Any:
    b = GraphBuilder(cache=False)
    b.model.add(rel_pick, id="n7")
    return b.model.add(rel_pick, id="n7")


def _no_free_input(ctx: Any) -> Any:
    b, _, n2 = _two_chained()
    return b.connect(b.add(rel_pick), n2)  # rel_scale's only input is already linked


def _edge_type(ctx: Any) -> Any:
    import pylearn_lab.components as lib

    b = GraphBuilder(cache=False)
    return b.connect(b.add(lib.logistic_regression), b.add(lib.pca), "data")


def _occupied_input(ctx: Any) -> Any:
    b, _, n2 = _two_chained()
    return b.connect(b.add(rel_scale, x=3), n2, "x")  # x is already fed by n1


BUILDER_CASES = [
    Case("builder-loop", "builder", "connecting a node to one upstream of it", E.CycleError,
         r"connect a node further upstream instead", _loop),
    Case("builder-unknown-port", "builder", "`connect(a, b, param='nope')`", E.SignatureError,
         r"Use one of those names", _unknown_port),
    Case("builder-unknown-param", "builder", "`set_param(node, 'bogus', 1)`", E.SignatureError,
         r"Use one of those names", _unknown_param),
    Case("builder-unknown-component", "builder", "`add('no_such_component')`",
         E.UnknownComponentError, r"define it with @pylearn_lab.component",
         lambda ctx: GraphBuilder(cache=False).add("no_such_component")),
    Case("builder-missing-input", "builder", "Run with a required input not connected",
         E.GraphError, FIX, _missing_input),
    Case("builder-invalid-value", "builder", "Run with a parameter of the wrong type",
         E.GraphError, r"expected int.*" + FIX, _invalid_value),
    Case("builder-empty", "builder", "Run on an empty canvas", E.GraphError,
         r"add a node from the palette", lambda ctx: GraphBuilder(cache=False).run(wait=True)),
    Case("builder-load-not-json", "builder", "`GraphBuilder.load()` of a file that is not JSON",
         E.SpecError, r"Load a file written by .*GraphBuilder.save\(\)", _load("hello, world")),
    Case("builder-load-not-a-spec", "builder", "`GraphBuilder.load()` of JSON that is no graph",
         E.SpecError, r"Load a file written by .*GraphBuilder.save\(\)", _load('[1, 2, 3]')),
    Case("builder-load-unknown-component", "builder", "loading a file whose component is not defined",
         E.UnknownComponentError, r"import the module that defines it, then load again",
         _load(json.dumps({"pylearn_graph": 1, "nodes": [{"id": "n1", "component": "gone.f"}]}))),
    Case("builder-no-free-input", "builder", "`connect(a, b)` when b has no unconnected input",
         E.GraphError, r"name the parameter: connect\(", _no_free_input),
    Case("builder-link-as-value", "builder", "`set_param(node, 'x', Ref(...))` (an edge as a value)",
         TypeError, r"use connect\(src, dst, param\) for edges", _link_as_value),
    Case("builder-duplicate-id", "builder", "`model.add(comp, id=...)` with an id in use",
         ValueError, r"pick another id or omit it", _duplicate_id),
    Case("builder-edge-type", "builder", "an edge from a `Model` into `data: Dataset | Split`",
         E.EdgeTypeError, r"Connect a node that returns Dataset \| Split instead", _edge_type),
    Case("builder-occupied-input", "builder", "a second edge into an input already connected",
         E.GraphError, r"delete that edge first .* or connect\(\.\.\., replace=True\)",
         _occupied_input),
]


@pytest.mark.parametrize("case", BUILDER_CASES, ids=[c.id for c in BUILDER_CASES])
def test_builder_bad_input(case, tmp_path, figures):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(BaseException) as info:
            case.trigger(tmp_path)
    check(case, info.value)
    figures["bad_inputs_tried"] = figures.get("bad_inputs_tried", 0) + 1
