"""GraphBuilder without a browser: clicks, simulated canvas messages, real runs."""

from __future__ import annotations

import threading
from typing import Annotated, Literal

import ipywidgets as W
import numpy as np
import pytest
from matplotlib.figure import Figure

import pylearn_lab
import pylearn_lab.components as lib
from pylearn_lab.graph import Bounds, component
from pylearn_lab.widgets import GraphBuilder
from pylearn_lab.widgets.builder import backend_options

IRIS = lib.load_iris.qualname
STANDARDIZE = lib.standardize.qualname
PCA = lib.pca.qualname


@component(category="test-builder")
def knobs(data=None, k: Annotated[int, Bounds(1, 9)] = 3,
          rate: Annotated[float, Bounds(0.0, 1.0)] = 0.5, kind: Literal["a", "b"] = "a",
          on: bool = True, count: int = 7, name: str = "x", extra: int | None = None) -> int:
    """Every kind of parameter."""
    return k


@component(category="test-builder")
def explode(data) -> int:
    """Always fails."""
    raise ValueError("this node always fails")


@component(category="test-builder")
def curve(n: int = 5) -> np.ndarray:
    """An array."""
    return np.linspace(0.0, 1.0, n)


@component(category="test-builder")
def figure(data) -> Figure:
    """A matplotlib figure."""
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def from_browser(builder: GraphBuilder, **content) -> None:
    """Deliver a custom message exactly as the browser's model.send() does."""
    builder.canvas._handle_msg({"content": {"data": {"method": "custom", "content": content}},
                                "buffers": []})


def html_of(widget: W.Widget) -> list[str]:
    """Every HTML text inside a widget tree."""
    own = [widget.value] if isinstance(widget, W.HTML) else []
    return own + [t for child in getattr(widget, "children", ()) for t in html_of(child)]


@pytest.fixture
def cache(tmp_path):
    c = pylearn_lab.Cache(tmp_path / "cache")
    yield c
    c.close()


def chain(builder: GraphBuilder) -> tuple[str, str, str]:
    """Palette clicks and browser drags: load_iris -> standardize -> pca."""
    for qual in (IRIS, STANDARDIZE, PCA):
        builder.palette.entries[qual].click()
    a, b, c = (n["id"] for n in builder.canvas.nodes)
    from_browser(builder, kind="connect", src=a, dst=b, param="data")
    from_browser(builder, kind="connect", src=b, dst=c, param="data")
    return a, b, c


def test_palette_lists_components_by_category_with_search_and_adds_nodes(cache) -> None:
    b = GraphBuilder(cache=cache)
    entries = b.palette.entries
    assert {IRIS, PCA, knobs.qualname} <= set(entries)
    text = " ".join(html_of(b.palette.listing))
    assert "preprocessing" in text and "Fisher" in text  # category headers and summaries
    b.palette.search.value = "principal"
    shown = [q for q, btn in entries.items() if btn.layout.display != "none"]
    assert shown == [PCA]
    b.palette.search.value = ""
    entries[PCA].click()
    assert [n["label"] for n in b.canvas.nodes] == ["pca"]
    assert b.canvas.selected == "n1"  # a new node is selected, so its form shows at once
    assert "n_components" in b.inspector.fields


def test_palette_follows_components_defined_after_it_opened(cache) -> None:
    b = GraphBuilder(cache=cache)

    @component(category="test-late")
    def defined_later(x: int = 1) -> int:
        """Defined after the builder opened."""
        return x

    assert defined_later.qualname in b.palette.entries
    b.palette.refresh_button.click()
    assert defined_later.qualname in b.palette.entries


def test_a_new_component_builds_one_palette_row_and_keeps_the_others(cache) -> None:
    """Session 7: every registration rebuilt every row (6 widgets each), and the old
    ones were never closed -- 7.7 s and 12,000 leaked widgets per ``@component`` with
    2,000 registered. Now a definition builds its own row only; a redefinition with a
    new summary replaces its row and closes the old one."""
    b = GraphBuilder(cache=cache)
    kept = dict(b.palette.entries)
    old_children = list(b.palette.listing.children)

    @component(category="test-rows")
    def one_more(x: int = 1) -> int:
        """First summary."""
        return x

    assert one_more.qualname in b.palette.entries
    assert all(b.palette.entries[q] is button for q, button in kept.items())
    new = [w for w in b.palette.listing.children if w not in old_children]
    assert len(new) == 2  # its row and its category's heading, nothing rebuilt
    old_button = b.palette.entries[one_more.qualname]

    @component(category="test-rows")
    def one_more(x: int = 1) -> int:  # noqa: F811  (a redefinition, as in a notebook)
        """Second summary."""
        return x + 1

    new_button = b.palette.entries[one_more.qualname]
    assert new_button is not old_button and old_button.comm is None  # closed
    assert "Second summary." in new_button.tooltip


def test_closing_a_builder_closes_its_palette_and_stops_following_the_registry(cache) -> None:
    b = GraphBuilder(cache=cache)
    buttons = list(b.palette.entries.values())
    b.close()
    assert buttons and all(button.comm is None for button in buttons)

    @component(category="test-rows")
    def after_close(x: int = 1) -> int:
        return x

    assert after_close.qualname not in b.palette.entries  # no longer following


def test_canvas_messages_connect_move_delete_and_layout(cache) -> None:
    b = GraphBuilder(cache=cache)
    a, s, p = chain(b)
    assert [(e["src"], e["dst"], e["param"]) for e in b.canvas.edges] == [(a, s, "data"),
                                                                         (s, p, "data")]
    from_browser(b, kind="move", id=p, x=700, y=300)
    node = next(n for n in b.canvas.nodes if n["id"] == p)
    assert (node["x"], node["y"]) == (700.0, 300.0)
    from_browser(b, kind="connect", src=p, dst=s, param="data")  # would be a loop
    assert "loop" in b.message.value and len(b.canvas.edges) == 2
    from_browser(b, kind="delete_edge", id=b.canvas.edges[1]["id"])
    assert len(b.canvas.edges) == 1 and b.statuses[p] == "invalid"
    fit = b.canvas.fit
    from_browser(b, kind="layout")
    assert b.canvas.fit == fit + 1
    b.canvas.set_state({"selected": s})
    from_browser(b, kind="delete_node", id=s)
    assert [n["id"] for n in b.canvas.nodes] == [a, p]
    assert b.canvas.edges == [] and b.canvas.selected == ""
    from_browser(b, kind="not-a-thing")  # ignored, not fatal


def test_inspector_fields_follow_the_signature(cache) -> None:
    b = GraphBuilder(cache=cache)
    src = b.add(lib.load_iris)
    n = b.add(knobs)
    b.connect(src, n)  # the first free input: data
    b.canvas.set_state({"selected": n})
    f = b.inspector.fields
    # numbers are exact text boxes with the bounds beside the name, never clamping sliders
    assert isinstance(f["k"], W.Text) and f["k"].value == "3" and f["k"].description == "k [1…9]"
    assert isinstance(f["rate"], W.Text) and f["rate"].value == "0.5"
    assert f["rate"].description == "rate [0…1]" and f["rate"].placeholder == "float in [0, 1]"
    assert isinstance(f["kind"], W.Dropdown) and f["kind"].options == (("a", "a"), ("b", "b"))
    assert isinstance(f["on"], W.Checkbox) and isinstance(f["count"], W.Text)
    assert isinstance(f["name"], W.Text) and isinstance(f["extra"], W.Text)
    assert isinstance(f["data"], W.HTML) and "connected from load_iris (n1)" in f["data"].value
    f["k"].value = "5"
    f["kind"].value = "b"
    f["on"].value = False
    f["extra"].value = "4"
    f["name"].value = "y"
    assert b.model.nodes[n].params == {"data": b.model.nodes[n].params["data"], "k": 5,
                                      "kind": "b", "on": False, "extra": 4, "name": "y"}
    f["extra"].value = ""  # an empty literal box means "use the default"
    assert "extra" not in b.model.nodes[n].params
    f["extra"].value = "[1,"  # not a number: kept as typed and flagged, the node cannot run
    assert b.model.nodes[n].params["extra"] == "[1,"
    assert "expected int, received str" in b.inspector.errors["extra"].value
    f["extra"].value = "None"
    assert b.model.nodes[n].params["extra"] is None
    assert b.expr.key == knobs(lib.load_iris(), k=5, kind="b", on=False, name="y", extra=None).key


def test_invalid_values_show_on_node_and_form_and_block_the_run(cache) -> None:
    b = GraphBuilder(cache=cache)
    n = b.add(knobs)
    b.canvas.set_state({"selected": n})
    b.inspector.fields["count"].value = "3"  # fine
    b.set_param(n, "k", 42)  # out of bounds: kept, reported
    node = b.canvas.nodes[0]
    assert b.statuses[n] == "invalid" and "[1, 9]" in node["problem"]
    assert "[1, 9]" in b.inspector.errors["k"].value
    b.run_button.click()
    assert b.last_run is None
    assert "cannot run" in b.message.value and "knobs (n1)" in b.message.value
    unconnected = b.add(explode)
    assert "not connected" in next(x for x in b.canvas.nodes if x["id"] == unconnected)["problem"]


def test_run_colours_nodes_done_then_cached(cache) -> None:
    b = GraphBuilder(cache=cache, backend="serial")
    a, s, p = chain(b)
    assert set(b.statuses.values()) == {"idle"}
    b.canvas.set_state({"selected": p})
    b.inspector.fields["n_components"].value = "3"
    seen: list[dict] = []
    b.canvas.observe(lambda ch: seen.append(dict(ch["new"])), names="status")
    b.run_button.click()
    assert b.wait(60)
    assert b.statuses == {a: "done", s: "done", p: "done"}
    assert b.last_run.result() == [pytest.approx(b.last_run.result()[0])]
    states_seen = {st["state"] for snap in seen for st in snap.values()}
    assert {"queued", "done"} <= states_seen
    assert "3 done" in b.message.value
    assert all(n["cached"] for n in b.canvas.nodes)  # now in the cache
    assert "Result of pca (n3)" in b.preview.text.value  # the selected node's value
    assert "shape (150, 3)" in b.preview.text.value and b.preview.image.layout.display != "none"

    b.run_button.click()
    assert b.wait(60)
    assert b.statuses == {a: "cached", s: "cached", p: "cached"}
    assert "3 cached" in b.message.value

    # A new builder on the same graph shows, before running, what the run would skip.
    again = GraphBuilder(b.expr, cache=cache)
    assert set(again.statuses.values()) == {"in-cache"}
    b.set_param(p, "n_components", 2)  # a new key: its old state no longer applies
    assert b.statuses[p] == "idle" and b.statuses[a] == "cached"


def test_a_failing_node_turns_red_and_shows_its_error(cache) -> None:
    b = GraphBuilder(cache=cache)
    src = b.add(curve)
    bad = b.add(explode)
    b.connect(src, bad, "data")
    b.run()
    assert b.wait(60)
    assert b.statuses == {src: "done", bad: "failed"}
    assert "this node always fails" in b.canvas.status[bad]["error"]
    assert "failed" in b.message.value
    b.canvas.set_state({"selected": bad})
    assert "this node always fails" in b.preview.text.value
    b.canvas.set_state({"selected": src})
    assert "shape (5,)" in b.preview.text.value


def test_preview_renders_figures_as_png(cache) -> None:
    b = GraphBuilder(cache=cache)
    src = b.add(curve)
    fig = b.add(figure)
    b.connect(src, fig)
    b.select(fig)
    b.run(wait=True)
    assert b.statuses[fig] == "done"
    assert bytes(b.preview.image.value[:8]) == b"\x89PNG\r\n\x1a\n"


def test_round_trips_through_code_expr_and_files(cache, tmp_path) -> None:
    ds = lib.train_test_split(lib.standardize(lib.load_iris()), test_size=0.2)
    expr = lib.accuracy(lib.logistic_regression(ds, epochs=5), ds)
    b = GraphBuilder(expr, cache=cache)
    assert b.expr.key == expr.key
    ns: dict = {}
    exec(b.to_code(), ns)
    assert ns["result"].key == expr.key
    extra = b.add(lib.load_iris, at=(900, 40))
    path = tmp_path / "graph.json"
    b.save(path)
    back = GraphBuilder.load(path, cache=cache)
    assert [e.key for e in back.expr] == [expr.key, lib.load_iris().key]
    assert [(n["id"], n["x"], n["y"]) for n in back.canvas.nodes] == \
        [(n["id"], n["x"], n["y"]) for n in b.canvas.nodes]
    assert extra in back.model.nodes


def test_backend_menu_offers_ipyparallel_only_with_a_cluster(cache) -> None:
    from pylearn_lab.backends import current_cluster, set_current_cluster

    before = current_cluster()  # a cluster fixture of an earlier test module may be live
    set_current_cluster(None)
    try:
        assert "ipyparallel" not in backend_options()
        set_current_cluster(object())
        b = GraphBuilder(cache=cache)
        assert b.backend.options == ("serial", "threads", "processes", "ipyparallel")
        set_current_cluster(None)
        b.palette.refresh_button.click()
        assert "ipyparallel" not in b.backend.options
    finally:
        set_current_cluster(before)


def test_widgets_package_is_lazy() -> None:
    import subprocess
    import sys

    code = ("import sys, pylearn_lab, pylearn_lab.widgets; print('ipywidgets' in sys.modules); "
            "pylearn_lab.widgets.GraphBuilder; print('ipywidgets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


GATE = threading.Event()


@component(category="test-builder", version="1", cache=False)
def gated() -> int:
    """Waits until the test opens the gate."""
    GATE.wait(30)
    return 1


def test_stop_cancels_a_running_run_and_run_comes_back(cache) -> None:
    GATE.clear()
    b = GraphBuilder(cache=cache)
    n = b.add(gated)
    b.run(backend="threads")
    assert b.run_button.disabled and not b.stop_button.disabled
    b.stop_button.click()
    GATE.set()
    assert b.wait(60)
    assert "cancelled" in b.message.value.lower()
    assert not b.run_button.disabled and b.stop_button.disabled
    assert b.statuses[n] in ("done", "skipped", "stopped")  # stopped: it was running


def test_a_run_that_cannot_start_leaves_nothing_queued(cache) -> None:
    b = GraphBuilder(cache=cache)
    n = b.add(curve)
    b.run_button.click()
    assert b.wait(60)
    b.set_param(n, "n", 6)
    b.backend.options = [*b.backend.options, "no-such-backend"]
    b.backend.value = "no-such-backend"
    b.run_button.click()
    assert "could not start" in b.message.value
    assert b.statuses[n] == "idle" and not b.run_button.disabled
    assert b.wait(0)


def test_a_big_graph_opens_laid_out_on_a_taller_canvas(cache) -> None:
    split = lib.train_test_split(lib.standardize(lib.load_iris()))
    outs = [lib.accuracy(lib.logistic_regression(lib.pca(split, n_components=n), lr=lr), split)
            for n in (1, 2, 3, 4) for lr in (0.01, 0.1, 1.0)]
    b = GraphBuilder(outs, cache=cache)
    assert len(b.canvas.nodes) == 3 + 4 + 12 + 12
    assert int(b.canvas.layout.height.removesuffix("px")) > 520
    assert [e.key for e in b.expr] == [e.key for e in outs]
    small = GraphBuilder(lib.load_iris(), cache=cache)
    assert small.canvas.layout.height == "520px"
