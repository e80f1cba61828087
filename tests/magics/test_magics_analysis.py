"""Reading a cell's inputs and outputs from its code, and the cell key built from them."""

from __future__ import annotations

import io
import math
import threading

import pytest
from IPython.core.error import UsageError

from pylearn_lab.magics.analysis import analyse, normalise
from pylearn_lab.magics.cellkey import plan_cell
from pylearn_lab.magics.progress import RunProgress
from pylearn_lab.vm.events import Event


@pytest.mark.parametrize("source, reads, assigns", [
    ("y = x + 1", ("x",), ("y",)),
    ("x = 1\ny = x + 1", (), ("x", "y")),
    ("x = x + 1", ("x",), ("x",)),
    ("x += 1", ("x",), ("x",)),
    ("a, (b, *c) = seq", ("seq",), ("a", "b", "c")),
    ("for i in items:\n    acc.append(i)", ("items", "acc"), ("i",)),
    ("import numpy as np, os.path\nfrom math import pi as PI", (), ("np", "os", "PI")),
    ("with open(p) as fh:\n    data = fh.read()", ("open", "p"), ("fh", "data")),
    ("try:\n    v = risky()\nexcept ValueError as e:\n    v = str(e)",
     ("risky", "ValueError", "str"), ("v", "e")),
    ("if (n := size()) > 3:\n    big = n", ("size",), ("n", "big")),
    ("tmp = 1\ndel tmp", (), ()),
    ("del old", ("old",), ()),
    ("obj.attr = val\nd[k] = 2", ("val", "obj", "d", "k"), ()),
    ("x: int\ny: int = 3", ("int",), ("y",)),
    (("match cmd:\n    case [first, *rest]:\n        out = first\n    case {'k': v, **others}:\n"
      "        out = v"), ("cmd",), ("first", "rest", "out", "v", "others")),
    ("_ = f()\n_1 = 2\nkeep = 3", ("f",), ("keep",)),
])
def test_reads_and_assigns_in_evaluation_order(source, reads, assigns):
    names = analyse(source)
    assert names.reads == reads
    assert names.assigns == assigns


def test_nested_scopes_read_the_module_through_symtable():
    names = analyse(
        "def g(a, b=default):\n"
        "    local = a + helper(b)\n"
        "    return [local * k for _ in range(n)]\n"
        "class C(Base):\n"
        "    attr = setting\n"
        "    def m(self):\n"
        "        return self.attr + other\n"
        "squares = [i * scale for i in data]\n"
        "fn = lambda q: q + offset\n"
        "helper = None\n"
    )
    assert names.reads == ("default", "Base", "data")
    # helper is assigned by the cell itself: not an input
    assert set(names.free) == {"k", "n", "setting", "other", "scale", "offset", "range"}
    assert "local" not in names.free and "a" not in names.free
    assert names.assigns == ("g", "C", "squares", "fn", "helper")


def test_global_declared_in_a_function_is_an_output():
    names = analyse("def setup():\n    global conf\n    conf = 1\nsetup()")
    assert "conf" in names.assigns


def test_normalised_source_ignores_comments_and_formatting_only():
    a = normalise("y = f(x)  # note\n")
    assert a == normalise("# header\n\ny=f( x )\n\n")
    assert a != normalise("y = f(z)")
    assert a != normalise("y = f(x, 1)")


# -- the key ----------------------------------------------------------------------------------
def square(v):
    return v * v


def test_key_follows_values_functions_and_outputs():
    ns = {"x": 2, "f": square, "math": math}
    base = plan_cell("y = f(x) + math.pi", ns)
    assert set(base.inputs) == {"x", "f", "math"}
    assert plan_cell("y = f(x) + math.pi  # same", dict(ns)).key == base.key
    assert plan_cell("y = f(x) + math.pi", {**ns, "x": 3}).key != base.key
    assert plan_cell("y = f(x) + math.pi", {**ns, "f": abs}).key != base.key
    assert plan_cell("y = f(x) + math.pi", ns, outputs=["y"]).key == base.key
    assert plan_cell("y = f(x) + math.pi\nz = 1", ns, outputs=["y"]).key != base.key
    assert plan_cell("y = f(x) + math.pi\nz = 1", ns, outputs=["z"]).key != \
        plan_cell("y = f(x) + math.pi\nz = 1", ns, outputs=["y"]).key


def test_builtins_and_ipython_hidden_names_are_not_inputs():
    hidden_exit = object()
    ns = {"exit": hidden_exit, "len": len, "data": [1]}
    plan = plan_cell("n = len(data)\nexit", ns, hidden={"exit": hidden_exit})
    assert set(plan.inputs) == {"data", "len"}  # a user-bound builtin name counts
    assert set(plan_cell("n = len(data)", {"data": [1]}).inputs) == {"data"}


def test_missing_and_unhashable_inputs_are_usage_errors():
    with pytest.raises(UsageError, match="reads 'ghost'"):
        plan_cell("y = ghost", {})
    with pytest.raises(UsageError, match=r"variable 'cfg' \(type dict\).*\['lock'\]"):
        plan_cell("y = cfg", {"cfg": {"lock": threading.Lock()}})
    # without hashing (--no-cache) an unhashable value is fine, and nothing is keyed
    plan = plan_cell("y = cfg", {"cfg": threading.Lock()}, hashed=False)
    assert plan.key == "" and "cfg" in plan.inputs


def test_a_missing_name_used_only_inside_a_function_is_not_an_error():
    plan = plan_cell("def later():\n    return defined_later()\n", {})
    assert plan.inputs == {} and plan.outputs == ("later",)


# -- progress ---------------------------------------------------------------------------------
def _events(p: RunProgress) -> None:
    for kind, key in [("cached", "a"), ("queued", "b"), ("queued", "c"), ("queued", "d"),
                      ("started", "b"), ("done", "b"), ("failed", "c"), ("skipped", "d")]:
        p(Event(kind, key, key, info={"duration": 0.25}))
    p(Event("finished", "", "", info={"elapsed": 1.5}))


def test_text_progress_counts_and_draws_one_updating_line():
    out = io.StringIO()
    p = RunProgress("text", stream=out, title="demo")
    _events(p)
    assert p.counts == {"total": 4, "queued": 3, "cached": 1, "done": 1, "failed": 1,
                        "skipped": 1}
    assert p.cached_keys == ["a"] and p.computed_time == 0.25 and p.elapsed == 1.5
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert "demo [########################] 4/4 nodes: 1 computed, 1 cached, 1 failed, " \
           "1 skipped" in text


def test_widget_progress_turns_red_on_failure():
    p = RunProgress("widget", title="demo")
    _events(p)
    assert (p.bar.value, p.bar.max, p.bar.bar_style) == (4, 4, "danger")
    assert "1 failed" in p.label.value


def test_progress_mode_is_checked():
    with pytest.raises(ValueError, match="mode expected"):
        RunProgress("fancy")
