"""The schedule algebra: point form, range form, and their agreement under combination."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pylearn_lab.errors import TrainingError
from pylearn_lab.training import after, always, at, each, every, never
from pylearn_lab.training.schedules import Schedule


def test_the_issue_example() -> None:
    s = each(10) & ~at(20)
    assert s(30) is True and s(20) is False and s(10) is True and s(15) is False


def test_range_form_on_a_jumping_timeline() -> None:
    s = each(100)
    assert s.fires(90, 130) and not s.fires(100, 190) and s.fires(199, 200)
    assert not s.fires(130, 130) and not s.fires(130, 90)  # empty or reversed ranges
    assert (each(10) & ~at(20)).fires(15, 35) and not (each(10) & ~at(20)).fires(15, 25)


def test_after_is_strict_and_at_is_exact() -> None:
    assert [after(3)(t) for t in (2, 3, 4)] == [False, False, True]
    assert at(1, 5).fires(0, 1) and not at(1, 5).fires(1, 4) and at(1, 5).fires(4, 9)
    assert always()(7) and not never()(7) and not never().fires(0, 10)


def test_wall_clock_schedules_work_on_real_numbers() -> None:
    s = every(seconds=0.5)
    assert s.timeline == "seconds"
    assert s.fires(0.4, 0.6) and not s.fires(0.51, 0.99) and s.fires(0.99, 1.0)
    assert (s & ~after(2.0)).fires(1.7, 2.6) and not (s & ~after(2.0)).fires(2.0, 2.4)
    assert (~each(1.0)).fires(0.0, 1.0)  # a real timeline has instants between 0 and 1


@pytest.mark.parametrize("bad, match", [
    (lambda: each(0), "n > 0"), (lambda: each("3"), "finite number"),
    (lambda: at(), "at least one"), (lambda: every(), "exactly one"),
    (lambda: every(seconds=1, iterations=2), "exactly one"),
    (lambda: each(2) & 3, "combines with another schedule"),
    (lambda: every(seconds=1) & every(examples=5), "one timeline"),
    (lambda: after(float("nan")), "finite number"),
])
def test_bad_schedules_say_what_to_do(bad, match) -> None:
    with pytest.raises(TrainingError, match=match):
        bad()


def _schedules() -> st.SearchStrategy[Schedule]:
    leaves = st.one_of(
        st.integers(1, 12).map(each),
        st.lists(st.integers(0, 60), min_size=1, max_size=4).map(lambda ts: at(*ts)),
        st.integers(-2, 60).map(after),
        st.sampled_from([always(), never()]),
    )
    return st.recursive(leaves, lambda kids: st.one_of(
        st.tuples(kids, kids).map(lambda ab: ab[0] & ab[1]),
        st.tuples(kids, kids).map(lambda ab: ab[0] | ab[1]),
        kids.map(lambda a: ~a),
    ), max_leaves=6)


@settings(max_examples=400, deadline=None)
@given(_schedules(), st.integers(-5, 70), st.integers(0, 30))
def test_range_form_agrees_with_point_form_on_whole_timelines(s, t1, width) -> None:
    t2 = t1 + width
    assert s.fires(t1, t2) == any(s(t) for t in range(t1 + 1, t2 + 1))


@settings(max_examples=200, deadline=None)
@given(_schedules(), st.integers(0, 70))
def test_a_one_step_range_is_the_point_form(s, t) -> None:
    assert s.fires(t - 1, t) == s(t)


@settings(max_examples=200, deadline=None)
@given(_schedules(), st.integers(0, 40), st.integers(0, 15), st.integers(0, 15))
def test_ranges_split_and_join(s, t1, a, b) -> None:
    # firing in (t1, t3] means firing in (t1, t2] or in (t2, t3]: timelines may jump freely
    t2, t3 = t1 + a, t1 + a + b
    assert s.fires(t1, t3) == (s.fires(t1, t2) or s.fires(t2, t3))


@settings(max_examples=200, deadline=None)
@given(_schedules(), _schedules(), st.integers(0, 60))
def test_algebra_is_boolean_algebra_pointwise(a, b, t) -> None:
    assert (a & b)(t) == (a(t) and b(t)) and (a | b)(t) == (a(t) or b(t))
    assert (~(a & b))(t) == ((~a) | (~b))(t) and (~~a)(t) == a(t)
