"""lineage(): the tree of calls behind a result — labels, parameters, input keys, structure."""

from __future__ import annotations

import pytest

import pylearn_lab as pl
from pylearn_lab.experiments import LineageNode, lineage


@pl.component
def load(n: int = 5) -> list:
    return list(range(n))


@pl.component
def scale(xs: list, factor: float = 1.0) -> list:
    return [x * factor for x in xs]


@pl.component
def compare(a: list, b: list, tol: float = 0.1) -> dict:
    return {"diff": sum(abs(x - y) for x, y in zip(a, b)), "tol": tol}


def build():
    data = load(n=4)
    return compare(scale(data, factor=2.0), data, tol=0.5), data


def test_tree_from_a_key_follows_the_cache_index(tmp_path):
    cache = pl.Cache(tmp_path)
    root_expr, data = build()
    pl.run(root_expr, cache=cache)
    root = lineage(root_expr.key, cache=cache)
    assert isinstance(root, LineageNode)
    assert (root.label, root.params, root.status) == ("compare", {"tol": 0.5}, "stored")
    assert root.function.endswith("compare")
    assert root.inputs == {"a": root_expr.inputs[0].key, "b": data.key}
    assert [p for p, _ in root.children] == ["a", "b"]
    scaled = root.children[0][1]
    assert (scaled.label, scaled.params, scaled.inputs) == ("scale", {"factor": 2.0},
                                                            {"xs": data.key})
    leaf = scaled.children[0][1]
    assert (leaf.label, leaf.params, leaf.children) == ("load", {"n": 4}, [])
    # the shared upstream node is one node, reached by both paths
    assert root.children[1][1] is leaf
    assert [n.label for n in root.walk()] == ["compare", "scale", "load"]
    for n in root.walk():
        rec = cache.record(n.key)
        assert (n.engine, n.duration, n.created, n.version) == (
            rec.engine, rec.duration, rec.created, rec.version)
        assert n.engine and n.duration >= 0 and n.when is not None


def test_rendering_text_and_html(tmp_path):
    cache = pl.Cache(tmp_path)
    root_expr, data = build()
    pl.run(root_expr, cache=cache)
    text = lineage(root_expr, cache=cache).render(details=False)
    assert text.splitlines() == [
        "compare(tol=0.5)",
        "├── a ← scale(factor=2.0)",
        "│   └── xs ← load(n=4)",
        "└── b ← load(n=4)",
    ]
    full = str(lineage(root_expr, cache=cache))
    assert root_expr.key[:8] in full and data.key[:8] in full and " on " in full
    html = lineage(root_expr, cache=cache)._repr_html_()
    assert "compare(tol=0.5)" in html and "scale(factor=2.0)" in html and "<details" in html


def test_an_expression_not_yet_run_shows_missing_nodes(tmp_path):
    cache = pl.Cache(tmp_path)
    root_expr, data = build()
    pl.run(data, cache=cache)
    root = lineage(root_expr, cache=cache)
    status = {n.label: n.status for n in root.walk()}
    assert status == {"compare": "missing", "scale": "missing", "load": "stored"}
    assert root.params == {"tol": 0.5} and "not computed" in root.headline()
    assert lineage(root_expr, cache=False).status == "missing"


def test_a_results_row_or_record_traces_too(tmp_path):
    cache = pl.Cache(tmp_path)
    sw = pl.sweep(scale(load(n=3)), grid={"factor": [1.0, 3.0]}, cache=cache)
    t = pl.results(scale, cache=cache)
    row = t[t["factor"] == 3.0].iloc[0]  # a pandas row (Series) has a "key"
    tree = lineage(row, cache=cache)
    assert tree.key == sw.keys[-1] and tree.params == {"factor": 3.0}
    assert lineage(cache.record(sw.keys[0]), cache=cache).params == {"factor": 1.0}
    assert pl.lineage(sw.keys[0], cache=cache).find("load")[0].params == {"n": 3}


def test_an_evicted_input_is_marked_missing(tmp_path):
    cache = pl.Cache(tmp_path)
    root_expr, data = build()
    pl.run(root_expr, cache=cache)
    cache.invalidate(data)
    root = lineage(root_expr.key, cache=cache)
    assert root.children[1][1].status == "missing" and root.children[1][1].key == data.key


def test_lineage_says_what_it_expected():
    with pytest.raises(TypeError, match="Expr, a key"):
        lineage(3.5, cache=False)
