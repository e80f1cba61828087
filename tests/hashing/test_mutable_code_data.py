"""Data that code reads, changed in place: a hit must never outlive the change.

A component's identity covers what its code reads besides its arguments: a
helper's defaults, closure cells, the globals it names, class attributes. Those
parts used to be memoised by object identity, so appending to a global list, or
writing into a default dict, left the key as it was and the cache served the
result computed from the old data. Each test computes, changes the data in place,
computes again through one real ``Cache``, and compares with a fresh call while a
counter proves what really ran.
"""

from __future__ import annotations

import numpy as np
import pytest

import pylearn_lab as pl
from pylearn_lab import function_identity

RAN: list[str] = pl.untracked([])  # a counter the code writes to: not part of any key


@pytest.fixture
def cache(tmp_path):
    RAN.clear()
    return pl.Cache(tmp_path / "cache")


TABLE = [1, 2]
LUT = {"a": 1}
WEIGHTS = np.array([1.0, 2.0])


def _with_default(t=TABLE):
    return sum(t)


@pl.component
def via_default(x: int) -> int:
    RAN.append("default")
    return _with_default() + x


@pl.component
def via_global_dict(x: int) -> int:
    RAN.append("dict")
    return LUT["a"] + x


@pl.component
def via_global_array(x: float) -> float:
    RAN.append("array")
    return float(WEIGHTS.sum()) + x


class Conf:
    scale = [2]


@pl.component
def via_class_attr(x: int) -> int:
    RAN.append("class")
    return Conf.scale[0] * x


def _make_closure():
    data = [1]

    def read():
        return sum(data)

    return read, data


_READ, _DATA = _make_closure()


@pl.component
def via_closure(x: int) -> int:
    RAN.append("closure")
    return _READ() + x


def _twice(comp, mutate, fresh, cache):
    first = pl.run(comp(1), cache=cache)
    assert first == fresh()
    mutate()
    second = pl.run(comp(1), cache=cache)
    assert second == fresh(), "served the result computed from the data before the change"
    assert len(RAN) == 2, f"the second call must compute, ran: {RAN}"
    third = pl.run(comp(1), cache=cache)  # and unchanged data hits again
    assert third == second and len(RAN) == 2


def test_a_helpers_default_list_appended_to(cache):
    _twice(via_default, lambda: TABLE.append(10), lambda: sum(TABLE) + 1, cache)


def test_a_global_dict_written_into(cache):
    _twice(via_global_dict, lambda: LUT.__setitem__("a", 7), lambda: LUT["a"] + 1, cache)


def test_a_global_array_changed_in_place(cache):
    def mutate():
        WEIGHTS[0] = 50.0
    _twice(via_global_array, mutate, lambda: float(WEIGHTS.sum()) + 1, cache)


def test_a_class_attribute_list_changed_in_place(cache):
    _twice(via_class_attr, lambda: Conf.scale.__setitem__(0, 5), lambda: Conf.scale[0] * 1, cache)


def test_a_closure_cell_list_appended_to(cache):
    _twice(via_closure, lambda: _DATA.append(100), lambda: sum(_DATA) + 1, cache)


def test_the_identity_follows_the_data_and_comes_back_with_it():
    LUT["a"] = 1
    before = function_identity(via_global_dict).digest
    LUT["a"] = 1000
    changed = function_identity(via_global_dict).digest
    LUT["a"] = 1
    restored = function_identity(via_global_dict).digest
    assert changed != before and restored == before


def test_an_expression_built_before_the_change_is_refused_not_stored(cache):
    from pylearn_lab.errors import StaleKeyError

    LUT["a"] = 1
    e = via_global_dict(2)
    LUT["a"] = 3  # after building, before running: the key no longer describes the code's data
    with pytest.raises(StaleKeyError):
        pl.run(e, cache=cache)
    assert RAN == []
    LUT["a"] = 1


def test_an_untracked_log_never_changes_the_key(cache):
    log = pl.untracked([])

    @pl.component
    def logged(x: int) -> int:
        log.append(x)
        RAN.append("logged")
        return x + 1

    assert pl.run(logged(1), cache=cache) == 2
    assert pl.run(logged(1), cache=cache) == 2
    assert RAN == ["logged"] and log == [1]  # the second call hit although the log changed


def test_a_big_global_array_is_re_hashed_per_key_not_copied():
    # the cost of the check is a hash of the data per key; the identity stays correct
    big = np.zeros(1_000_000)

    def reads():
        return big.sum()

    a = function_identity(reads).digest
    assert function_identity(reads).digest == a
    big[-1] = 1.0
    assert function_identity(reads).digest != a
