"""Fuzzing the cell's node: any text is a plan or a one-line UsageError; keys follow values."""

from __future__ import annotations

import copy

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from pylearn_lab.hashing import hash_value
from pylearn_lab.magics.cellkey import plan_cell

TOKENS = st.sampled_from(["x", "y", "z", "=", "+", "(", ")", "[", "]", ":", "\n", "    ",
                          "def ", "f", "lambda ", "for ", " in ", "del ", "1", "'s'", ",",
                          "import math", "global ", "return ", "yield ", "class ", "#", "."])
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=8)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # "1x" and friends, from ast.parse
@settings(max_examples=200, deadline=None)
@given(st.lists(TOKENS, max_size=25).map("".join))
def test_any_text_is_a_plan_or_a_one_line_usage_error(text):
    ns = {"x": 1, "f": abs}
    try:
        plan = plan_cell(text, ns)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert set(plan.inputs) <= {"x", "f", "math"}
    assert len(plan.key) == 32


@settings(max_examples=100, deadline=None)
@given(VALUES, VALUES)
def test_the_key_follows_the_values_hash_and_nothing_else(a, b):
    key_a = plan_cell("y = x", {"x": a}).key
    assert plan_cell("y = x  # same code", {"x": copy.deepcopy(a)}).key == key_a
    same = hash_value(a) == hash_value(b)
    assert (plan_cell("y = x", {"x": b}).key == key_a) is same
