"""Canonical value hashing: equal values agree, different values differ, unknowns fail loudly."""

from __future__ import annotations

import dataclasses
import enum
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pylearn_lab import UnhashableError, hash_value, register_hash


def test_dict_order_counts_as_iteration_sees_it():
    # list(d), pd.DataFrame(d) and json.dumps(d) follow insertion order, so the key does too
    # (tests/hashing/test_redteam_s4.py runs the wrong hit this used to serve)
    assert hash_value({"a": 1, "b": [1, 2]}) != hash_value({"b": [1, 2], "a": 1})
    assert hash_value({"a": 1, "b": [1, 2]}) == hash_value({"a": 1, "b": [1, 2]})


def test_sets_hash_by_content():
    assert hash_value({3, 1, 2}) == hash_value({1, 2, 3})
    assert hash_value({1, 2}) != hash_value(frozenset({1, 2}))


@pytest.mark.parametrize("a, b", [
    ((1, 2), [1, 2]), (1, 1.0), (1, True), (0.1 + 0.2, 0.3), ("1", 1), (b"x", "x"), (None, 0),
    ({"a": 1}, {"a": 2}), ([1, [2]], [1, [3]]),
])
def test_different_values_or_types_differ(a, b):
    assert hash_value(a) != hash_value(b)


def test_array_view_and_copy_hash_the_same():
    a = np.arange(24.0).reshape(4, 6)
    view = a[:, ::2]
    assert not view.flags.c_contiguous
    assert hash_value(view) == hash_value(view.copy())
    assert hash_value(a.T) == hash_value(np.ascontiguousarray(a.T))
    assert hash_value(np.asfortranarray(a)) == hash_value(a)


def test_array_dtype_and_shape_matter():
    a = np.arange(6)
    assert hash_value(a.astype(np.int64)) != hash_value(a.astype(np.int32))
    assert hash_value(a.reshape(2, 3)) != hash_value(a.reshape(3, 2))
    assert hash_value(a) != hash_value(a.tolist())
    b = a.copy()
    b[3] = 99
    assert hash_value(a) != hash_value(b)


def test_numpy_scalar_is_not_a_python_float():
    assert hash_value(np.float64(1.5)) != hash_value(1.5)
    assert hash_value(np.float64(1.5)) == hash_value(np.float64(1.5))


def test_non_deterministic_value_raises_naming_the_path_and_the_fix():
    # Plain instances are keyed by class and state (issue 11); a lock has no content.
    import threading

    with pytest.raises(UnhashableError) as info:
        hash_value({"cfg": [threading.Lock()]}, name="argument 'params'")
    msg = str(info.value)
    assert "argument 'params'['cfg'][0]" in msg
    assert "lock" in msg
    assert "__pylearn_hash__" in msg and "register_hash" in msg
    assert isinstance(info.value, TypeError)


def test_pylearn_hash_method_and_registered_handler():
    class P:
        def __init__(self, v):
            self.v = v

        def __pylearn_hash__(self):
            return self.v

    assert hash_value(P(1)) == hash_value(P(1)) != hash_value(P(2))

    class Q:
        def __init__(self, v):
            self.v = v

    register_hash(Q, lambda q: q.v)
    assert hash_value(Q([1])) == hash_value(Q([1])) != hash_value(Q([2]))


def test_dataclasses_and_enums():
    @dataclasses.dataclass
    class Cfg:
        lr: float
        n: int

    class Color(enum.Enum):
        RED = 1
        BLUE = 2

    assert hash_value(Cfg(0.1, 2)) == hash_value(Cfg(0.1, 2)) != hash_value(Cfg(0.2, 2))
    assert hash_value(Color.RED) != hash_value(Color.BLUE)
    assert hash_value(Color.RED) != hash_value(1)


def test_hash_is_stable_across_processes():
    code = textwrap.dedent("""
        import numpy as np
        from pylearn_lab import hash_value
        print(hash_value({"x": np.arange(10.0), "y": (1, "a", None), "z": {3, 4}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = hash_value({"x": np.arange(10.0), "y": (1, "a", None), "z": {3, 4}})
    assert out.stdout.strip() == here
