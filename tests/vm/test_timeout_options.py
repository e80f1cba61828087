"""Bad timeouts are refused where they are given, with an error from the one tree.

``run(timeout=, node_timeout=)``, ``component(timeout=)`` and the ipyparallel
backend's own timeouts: each bad value raises :class:`OptionError` (also a
``ValueError``) naming the option, what it expects and what it received -- and
nothing runs. Good values still run (counted).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pylearn_lab as pl
from pylearn_lab.errors import OptionError, PylearnError

CALLS: list[int] = pl.untracked([])  # a counter the code writes to: not part of any key


@pl.component
def counted(x: int) -> int:
    CALLS.append(x)
    return x + 1


BAD = [0, -1, -0.5, math.nan, math.inf, -math.inf, "10", b"1", True, False, [1], object()]


@pytest.mark.parametrize("option", ["timeout", "node_timeout"])
@pytest.mark.parametrize("value", BAD, ids=repr)
def test_run_refuses_a_bad_timeout_before_anything_runs(option, value) -> None:
    CALLS.clear()
    with pytest.raises(OptionError) as info:
        pl.run(counted(1), cache=False, progress=False, **{option: value})
    msg = str(info.value)
    assert f"run({option}=)" in msg and "seconds > 0" in msg and "received" in msg
    assert isinstance(info.value, ValueError) and isinstance(info.value, PylearnError)
    assert CALLS == []  # refused at the call: the node never ran


# an int, a float and None; generous, so a loaded machine never turns the check into a race
@pytest.mark.parametrize("value", [60, 60.5, None])
def test_run_takes_good_timeouts(value) -> None:
    CALLS.clear()
    assert pl.run(counted(2), cache=False, progress=False, timeout=value,
                  node_timeout=value) == 3
    assert CALLS == [2]


@pytest.mark.parametrize("value", BAD, ids=repr)
def test_component_refuses_a_bad_timeout(value) -> None:
    with pytest.raises(OptionError) as info:
        pl.component(timeout=value)(lambda x: x)
    assert "component(timeout=)" in str(info.value) and repr(value)[:20] in str(info.value)


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(),
                 st.booleans(), st.none()))
def test_check_seconds_accepts_exactly_finite_positive_numbers(value) -> None:
    from pylearn_lab.graph.seconds import check_seconds

    good = value is None or (not isinstance(value, (bool, str)) and math.isfinite(value)
                             and value > 0)
    if good:
        out = check_seconds("x", value)
        assert out is None if value is None else out == float(value)
    else:
        with pytest.raises(OptionError):
            check_seconds("x", value)


@pytest.mark.parametrize("option", ["engine_timeout", "health_timeout", "health_interval",
                                    "probe_timeout", "stop_grace"])
def test_the_ipyparallel_backend_refuses_bad_timeouts_before_touching_a_client(option) -> None:
    pytest.importorskip("ipyparallel")
    from pylearn_lab.backends.ipp import IPyParallelBackend

    # no client at all: the value is refused first, so no cluster is needed to see it
    with pytest.raises(OptionError) as info:
        IPyParallelBackend(None, **{option: -1})
    assert f"IPyParallelBackend({option}=)" in str(info.value)
    with pytest.raises(OptionError, match="data_plane"):
        IPyParallelBackend(None, data_plane="sometimes")
    with pytest.raises(OptionError, match="absolute paths"):
        IPyParallelBackend(None, path_map={"relative": "/mnt"})
