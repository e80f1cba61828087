"""Fuzzing the parsers that read user text: the JSON spec loader and ``%pylearn``.

Bounded (``max_examples``, ``deadline=None``, seeded): every input is either
accepted or refused with a :class:`~pylearn_lab.errors.PylearnError` subclass;
nothing raw, nothing hangs, no property runs. The larger run is ``fuzz_big.py``.
"""

from __future__ import annotations

import json
import random
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import fuzzing as fz

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), rounds=st.integers(1, 4))
def test_mutated_specs_load_or_raise_a_clear_error(seed, rounds, figures):
    rng = random.Random(seed)
    doc = fz.base_spec()
    for _ in range(rounds):
        doc = fz.mutate(doc, rng)
    try:
        text = json.dumps(doc)
    except (TypeError, ValueError):
        return
    assert fz.spec_outcome(text) != "raw", text[:300]
    figures["spec_fuzz_inputs"] = figures.get("spec_fuzz_inputs", 0) + 1


@SETTINGS
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_arbitrary_text_is_not_a_spec_and_says_so(text):
    assert fz.spec_outcome(text) != "raw"


@pytest.mark.parametrize("depth", [150, 250, 5_000, 100_000])
def test_deeply_nested_specs_are_a_clear_error(depth):
    assert fz.spec_outcome(fz.deep(depth)) in ("ok", "clear")


def test_a_long_chain_of_nodes_is_a_clear_error_or_loads():
    nodes = [{"id": "n0", "component": fz.fz_source.qualname, "args": [], "kwargs": {}}]
    for i in range(1, 5_000):
        nodes.append({"id": f"n{i}", "component": fz.fz_scale.qualname,
                      "args": [{"$ref": f"n{i - 1}"}], "kwargs": {}})
    text = json.dumps({"pylearn_graph": 1, "nodes": nodes, "outputs": ["n4999"]})
    assert fz.spec_outcome(text) in ("ok", "clear")


@pytest.fixture
def shell(tmp_path, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from pylearn_lab.backends.registry import set_default_backend
    from pylearn_lab.cache import set_default_cache

    monkeypatch.chdir(tmp_path)  # relative cache paths land in the test's own folder
    cfg = Config()
    cfg.HistoryManager.enabled = False
    sh = InteractiveShell.instance(config=cfg)
    sh.run_line_magic("load_ext", "pylearn_lab")
    set_default_cache(tmp_path / "session-cache")
    sh.user_ns.update({"x": fz.Prop(), "e": fz.fz_source(2), "f": fz.fz_source})
    yield sh
    sh.run_line_magic("unload_ext", "pylearn_lab")
    InteractiveShell.clear_instance()
    set_default_cache(None)
    set_default_backend("serial")


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_random_magic_lines_are_accepted_or_a_clear_usage_error(shell, seed, figures, capsys):
    line = fz.magic_line(random.Random(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = fz.magic_outcome(shell, line)
    assert outcome != "raw", repr(line)
    assert fz.Prop.ran == 0, f"a property ran while resolving {line!r}"
    figures["magic_fuzz_lines"] = figures.get("magic_fuzz_lines", 0) + 1


@pytest.mark.parametrize("line", [
    "cache 'unclosed", 'run "e', "cache a\x00b", "cache \udc80", "cache ~nosuchuser/c",
    "cache " + "d" * 5000, "lineage x", "why x", "lineage x.prop", "run x.prop", "results x.prop",
    "lineage 3", "run e.key", "cache trust", "cache trust ./nope --key", "cache /",
    "cache trust / --reset", "x" * 20_000,
])
def test_hand_picked_magic_lines(shell, line, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fz.magic_outcome(shell, line) in ("ok", "clear"), repr(line)
    assert fz.Prop.ran == 0
