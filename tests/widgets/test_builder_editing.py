"""Editing the builder without a browser: history, selection, clipboard, typed ports,
redefinition, exact fields, previews that follow the model, failures, stop."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

import pylearn_lab
import pylearn_lab.components as lib
from pylearn_lab.errors import EdgeTypeError, GraphError
from pylearn_lab.graph import component
from pylearn_lab.graph.nodes import Ref
from pylearn_lab.widgets import GraphBuilder
from pylearn_lab.widgets.builder_model import BuilderModel
from pylearn_lab.widgets.builder_run import RunTracker
from pylearn_lab.widgets.builder_types import admits

CALLS: list[str] = pylearn_lab.untracked([])  # a counter the code writes to: not part of any key


@component(category="test-editing")
def number(v: int = 1) -> int:
    """A number."""
    CALLS.append("number")
    return v


@component(category="test-editing")
def report(score: float, digits: int = 2) -> str:
    """A typed data input without a default."""
    return f"{score:.{digits}f}"


@component(category="test-editing")
def add2(a, b: int = 0) -> int:
    """a + b."""
    return a + b


@component(category="test-editing")
def broken(x) -> int:
    """Always fails, with a traceback."""
    raise ZeroDivisionError("broken on purpose")


def from_browser(builder: GraphBuilder, **content) -> None:
    """Deliver a custom message exactly as the browser's model.send() does."""
    builder.canvas._handle_msg({"content": {"data": {"method": "custom", "content": content}},
                                "buffers": []})


@pytest.fixture
def cache(tmp_path):
    c = pylearn_lab.Cache(tmp_path / "cache")
    yield c
    c.close()


def state(m: BuilderModel) -> str:
    """Everything an edit can change, as comparable text."""
    return json.dumps({k: [n.component, repr(sorted(n.params.items())), n.x, n.y, n.exposed]
                       for k, n in sorted(m.nodes.items())}, sort_keys=True)


def test_every_kind_of_edit_undoes_and_redoes_exactly() -> None:
    m = BuilderModel()
    a = m.add(number, {"v": 3}, at=(0, 0))
    b = m.add(add2, at=(300, 0))
    c = m.add(report, at=(600, 0))
    edits = [
        lambda: m.connect(a, b, "a"),
        lambda: m.set_param(b, "b", 4),
        lambda: m.unset_param(b, "b"),
        lambda: m.move(a, 50, 60),
        lambda: m.connect(b, c, "score"),
        lambda: m.disconnect(f"{b}>{c}.score.0"),
        lambda: m.expose(c, "digits"),
        lambda: m.connect(a, c, "digits"),
        lambda: m.duplicate([a, b]),
        lambda: m.paste(m.copy([c]), at=(0, 500)),
        lambda: m.remove_many([a, c]),
        lambda: m.auto_layout(),
        lambda: m.remove(b),
        lambda: m.add(number),
    ]
    states = [state(m)]
    for edit in edits:
        edit()
        assert state(m) != states[-1], f"edit {len(states)} changed nothing"
        states.append(state(m))
    for before in reversed(states[:-1]):  # every edit is one undo step
        assert m.undo()
        assert state(m) == before
    assert m.history.can_undo  # the three adds of the setup are edits too
    for after in states[1:]:
        assert m.redo()
        assert state(m) == after
    assert not m.redo()
    m.undo()
    m.add(number, {"v": 9})  # a new edit...
    assert not m.history.can_redo  # ...forgets what was undone


def test_an_echoed_value_is_not_an_edit_and_a_group_undoes_at_once() -> None:
    m = BuilderModel()
    a = m.add(number, {"v": 3})
    depth = len(m.history._undo)
    m.set_param(a, "v", 3)  # a form re-sending the same value
    m.move(a, m.nodes[a].x, m.nodes[a].y)
    assert len(m.history._undo) == depth
    m.set_param(a, "v", 3.0)  # same number, other type: a different key, so an edit
    assert len(m.history._undo) == depth + 1
    ids = m.duplicate([a])
    assert len(ids) == 1 and len(m) == 2
    m.undo()
    assert list(m.nodes) == [a]


def test_copy_paste_keeps_internal_edges_only_and_keys_match() -> None:
    m = BuilderModel()
    a, b, c = m.add(number, {"v": 2}), m.add(add2, {"b": 5}), m.add(add2)
    m.connect(a, b, "a")
    m.connect(b, c, "a")
    clip = m.copy([b, c])  # a is outside: b's input becomes free in the copy
    new_b, new_c = m.paste(clip)
    assert m.nodes[new_c].params == {"a": Ref(new_b)}
    assert m.nodes[new_b].params == {"b": 5}
    assert "not connected" in m.problems()[new_b][0].message
    m.connect(a, new_b, "a")
    exprs = m.build().exprs
    assert exprs[new_c].key == exprs[c].key  # the same computation, the same key
    # nodes keep their relative places, shifted
    assert (m.nodes[new_c].x - m.nodes[new_b].x) == (m.nodes[c].x - m.nodes[b].x)


def test_typed_data_inputs_get_ports_and_literals_can_become_ports() -> None:
    m = BuilderModel()
    r = m.add(report)
    assert m.ports(r) == ["score"]  # score: float has no default: data comes in by an edge
    acc = m.add(lib.accuracy)
    model = m.add(lib.logistic_regression)
    m.connect(acc, r, "score")  # accuracy() -> float into score: float
    m.expose(r, "digits")
    assert m.ports(r) == ["score", "digits"]
    n = m.add(number, {"v": 3})
    m.connect(n, r, "digits")
    m.expose(r, "digits", False)  # hiding the port drops its edge: the default applies
    assert m.ports(r) == ["score"] and "digits" not in m.nodes[r].params
    with pytest.raises(EdgeTypeError, match=r"'data' expects Dataset \| Split, but "
                                            r"logistic_regression\(\) returns Model"):
        m.connect(model, m.add(lib.pca), "data")
    with pytest.raises(EdgeTypeError, match="'score' expects float"):
        m.connect(m.add(report), r, "score", replace=True)  # str into float


def test_annotation_rule_is_permissive_only_where_python_is() -> None:
    assert admits(lib.Dataset | lib.Split, lib.Split)
    assert admits(lib.Dataset | lib.Split, lib.Dataset | lib.Split)
    assert not admits(lib.Dataset | lib.Split, lib.Model)
    assert not admits(float, str) and admits(float, int) and not admits(int, float)
    assert admits(float, None) and admits(None, lib.Model) and admits("Dataset", lib.Model)
    assert admits(float | None, bool)  # bool is an int is a number


def test_a_refused_edge_says_why_on_the_canvas(cache) -> None:
    b = GraphBuilder(cache=cache)
    model, pca, iris = b.add(lib.logistic_regression), b.add(lib.pca), b.add(lib.load_iris)
    from_browser(b, kind="connect", src=model, dst=pca, param="data")
    assert b.model.edges == []
    assert b.canvas.notice["error"] and "expects Dataset | Split" in b.canvas.notice["text"]
    from_browser(b, kind="connect", src=iris, dst=pca, param="data")
    n = b.canvas.notice["n"]
    from_browser(b, kind="connect", src=b.add(lib.load_iris), dst=pca, param="data")
    assert b.canvas.notice["n"] == n + 1 and "already fed by load_iris (n3)" in b.canvas.notice["text"]
    assert [e.src for e in b.model.edges] == [iris]  # the occupied input kept its edge


def test_redefining_a_component_changes_the_key_and_runs_the_new_code(cache) -> None:
    ns: dict = {}
    src = ("from pylearn_lab.graph import component\n"
           "@component(category='test-redefine')\n"
           "def level(x: int = 1) -> int:\n"
           "    '''A level.'''\n"
           "    return x + {k}\n")
    exec(compile(src.format(k=1), "<cell 1>", "exec"), ns)
    b = GraphBuilder(cache=cache)
    n = b.add(ns["level"].qualname)
    b.run(wait=True)
    old_key = b.canvas.nodes[0]["key"]
    assert b.statuses[n] == "done" and b.tracker.values[b._keys[n]] == 2
    b.select(n)
    assert "Result of level" in b.preview.text.value
    exec(compile(src.format(k=100), "<cell 2>", "exec"), ns)  # the user edits and reruns the cell
    assert b.canvas.nodes[0]["key"] != old_key
    assert b.statuses[n] == "idle"  # not "in cache": nothing of the new code ran
    assert "Run the graph" in b.preview.text.value  # the old result is not shown for the new key
    b.run(wait=True)
    assert b.statuses[n] == "done" and b.tracker.values[b._keys[n]] == 101


def test_previews_and_problem_notes_follow_every_change(cache) -> None:
    b = GraphBuilder(cache=cache)
    a = b.add(number, v=2)
    s = b.add(add2, b=1)
    b.select(s)
    assert "Fix this node" in b.preview.text.value
    b.connect(a, s)
    assert "Fix this node" not in b.preview.text.value
    b.run(wait=True)
    assert "<code>3</code>" in b.preview.text.value
    b.set_param(s, "b", 5)  # a new key: the preview must not show the result of b=1
    assert "<code>3</code>" not in b.preview.text.value
    b.undo()  # back to b=1, whose result is cached
    assert "<code>3</code>" in b.preview.text.value
    b.set_param(s, "b", "x")
    assert b.statuses[s] == "invalid" and "Fix this node" in b.preview.text.value
    b.undo()
    assert b.statuses[s] in ("in-cache", "done")


def test_inspector_keeps_and_flags_invalid_numbers_and_shows_floats_exactly(cache) -> None:
    b = GraphBuilder(cache=cache)
    n = b.add(lib.logistic_regression, l2=0.001)
    b.select(n)
    f = b.inspector.fields
    assert f["l2"].value == "0.001" and f["lr"].value == "0.1"
    assert f["epochs"].description == "epochs [1…10000]"
    f["epochs"].value = "2.7"  # refused, not 27, not 2
    assert b.model.nodes[n].params["epochs"] == "2.7"
    assert "expected int" in b.inspector.errors["epochs"].value
    f["epochs"].value = "0"  # out of bounds: kept as typed, flagged with the bounds
    assert b.model.nodes[n].params["epochs"] == 0 and f["epochs"].value == "0"
    assert "[1, 10000]" in b.inspector.errors["epochs"].value
    f["epochs"].value = "20000"
    assert b.model.nodes[n].params["epochs"] == 20000 and b.statuses[n] == "invalid"
    f["epochs"].value = "658"
    f["lr"].value = "1e-3"
    assert b.model.nodes[n].params["epochs"] == 658 and b.model.nodes[n].params["lr"] == 0.001
    b.select(None)
    b.select(n)  # the form rebuilt from the model shows what was typed, exactly
    assert (b.inspector.fields["epochs"].value, b.inspector.fields["lr"].value) == ("658", "0.001")


def test_pca_with_more_components_than_features_is_flagged_before_running(cache) -> None:
    b = GraphBuilder(cache=cache)
    iris = b.add(lib.load_iris)
    p = b.add(lib.pca)
    b.connect(iris, p)
    b.run(wait=True)  # iris is now known to the builder: 4 features
    b.set_param(p, "n_components", 100)  # inside the Bounds(1, 100), but not for this input
    problems = b.model.problems()[p]
    assert problems[0].param == "n_components" and "expected n_components <= 4" in problems[0].message
    assert b.statuses[p] == "invalid"
    with pytest.raises(GraphError, match="n_components <= 4"):
        b.run()
    b.set_param(p, "n_components", 4)
    assert p not in b.model.problems()


def test_node_values_and_call_are_drawn(cache) -> None:
    b = GraphBuilder(cache=cache)
    a = b.add(lib.load_iris)
    p = b.add(lib.pca, n_components=3)
    b.connect(a, p)
    node = next(n for n in b.canvas.nodes if n["id"] == p)
    assert node["values"] == "n_components=3"
    assert node["call"] == "pca(data=load_iris (n1), n_components=3)"


def test_a_failure_shows_its_traceback_and_where_it_ran(cache) -> None:
    b = GraphBuilder(cache=cache)
    a = b.add(number)
    bad = b.add(broken)
    b.connect(a, bad)
    b.run(wait=True)
    st = b.canvas.status[bad]
    assert st["state"] == "failed" and "ZeroDivisionError" in st["error"]
    assert "raise ZeroDivisionError" in st["traceback"] and st["where"]
    b.select(bad)
    text = b.preview.text.value
    assert f"failed on {st['where']}" in text
    assert "<details class='pylearn-traceback'>" in text and "raise ZeroDivisionError" in text


def test_stop_marks_a_node_still_running_in_a_thread_stopped_not_skipped(cache) -> None:
    gate, started = threading.Event(), threading.Event()

    @component(category="test-editing", cache=False, version="gate")
    def slow() -> int:
        """Runs until the test lets it finish."""
        started.set()
        gate.wait(30)
        return 1

    b = GraphBuilder(cache=cache)
    n = b.add(slow)
    try:
        b.run(backend="threads")
        assert started.wait(30)
        while b.canvas.status.get(n, {}).get("state") != "running":
            time.sleep(0.01)  # the started event reaches the canvas on the run's thread
        b.stop_button.click()
        assert b.wait(30)
        assert b.statuses[n] == "stopped"
        assert "may still finish" in b.canvas.status[n]["note"]
    finally:
        gate.set()


def test_tracker_marks_never_started_nodes_skipped_and_running_ones_stopped() -> None:
    import concurrent.futures as cf

    from pylearn_lab.vm.events import Event

    t = RunTracker()
    t.start(["a", "b"])
    t(Event("started", "a", "f"))
    fut: cf.Future = cf.Future()
    fut.cancel()
    t.finish(fut, [])
    assert (t.states["a"]["state"], t.states["b"]["state"]) == ("stopped", "skipped")


def test_canvas_messages_select_delete_copy_paste_add_undo(cache) -> None:
    b = GraphBuilder(cache=cache)
    a, s = b.add(number), b.add(add2)
    b.connect(a, s)
    from_browser(b, kind="select", ids=[a, s])
    assert b.selection == [a, s] and b.canvas.selected == a
    from_browser(b, kind="copy", ids=[a, s])
    from_browser(b, kind="paste", x=0, y=600)
    assert len(b.model) == 4 and len(b.model.edges) == 2 and b.selection == ["n3", "n4"]
    assert (b.model.nodes["n3"].x, b.model.nodes["n3"].y) == (0.0, 600.0)
    from_browser(b, kind="duplicate", ids=["n3"])
    assert len(b.model) == 5
    from_browser(b, kind="delete", nodes=["n3", "n4", "n5"], edges=[])
    assert list(b.model.nodes) == [a, s]
    from_browser(b, kind="undo")
    assert len(b.model) == 5
    from_browser(b, kind="redo")
    assert len(b.model) == 2
    from_browser(b, kind="delete", nodes=[], edges=[f"{a}>{s}.a.0"])
    assert b.model.edges == []
    from_browser(b, kind="add", component=number.qualname, x=10, y=20)
    new = b.canvas.selected
    assert b.model.nodes[new].component == number.qualname and b.model.nodes[new].x == 10.0
    from_browser(b, kind="undo")
    from_browser(b, kind="undo")
    assert len(b.model.edges) == 1
    assert b.undo() and b.undo()  # ... and the Python API walks the same history
    assert {e["name"] for e in b.canvas.palette} >= {"number", "pca"}


def test_save_load_and_code_buttons(cache, tmp_path) -> None:
    b = GraphBuilder(cache=cache)
    a = b.add(number, v=4)
    s = b.add(add2, b=2)
    b.connect(a, s)
    key = b.expr.key
    sent: list = []
    b.canvas.send = lambda content, buffers=None: sent.append(content)  # what JS receives
    b.path.value = str(tmp_path / "g.json")
    b.save_button.click()
    assert "saved 2 node(s)" in b.message.value
    b.remove(a)
    b.load_button.click()
    assert b.expr.key == key and "loaded" in b.message.value
    b.undo()  # loading is one edit
    assert list(b.model.nodes) == [s]
    b.redo()
    b.code_button.click()
    assert sent[-1]["kind"] == "code" and "add2(" in sent[-1]["code"]
    ns: dict = {}
    exec(sent[-1]["code"], ns)
    assert [v for v in ns.values() if getattr(v, "key", None) == key]
    b.path.value = str(tmp_path / "missing.json")
    b.load_button.click()
    assert "could not load" in b.message.value and b.expr.key == key


def test_palette_search_matches_names_and_hides_empty_categories(cache) -> None:
    b = GraphBuilder(cache=cache)
    p = b.palette
    p.search.value = "pca"
    shown = [q for q, btn in p.entries.items() if btn.layout.display != "none"]
    assert shown == [lib.pca.qualname]  # not every component whose summary says "PCA"
    visible = [c for c, h in p.headers.items() if h.layout.display != "none"]
    assert visible == ["preprocessing"]
    p.search.value = "principal"  # no name matches: the summaries are searched
    assert [q for q, btn in p.entries.items() if btn.layout.display != "none"] == [lib.pca.qualname]


def test_preview_fits_models_and_splits() -> None:
    from pylearn_lab.widgets.builder_preview import describe, plot_png

    split = lib.train_test_split(lib.load_iris()).compute(cache=False)
    model = lib.logistic_regression(split, epochs=5).compute(cache=False)
    text = describe(model)
    assert "setting epochs" in text and "final loss" in text and "learned" in text
    for value in (split, model):
        png = plot_png(value)
        assert png is not None and png[:4] == b"\x89PNG"
    assert np.asarray(split.train.X).shape[1] == 4
