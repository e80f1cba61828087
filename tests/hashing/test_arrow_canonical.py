"""Arrow arrays (and pandas' Arrow-backed columns) are keyed by the values they address.

A slice shares its parent's buffers and keeps an offset, and so may every child of
a struct or list array. Keys once hashed ``buffers()`` as they were, so a struct of
``[1, 2, 3][1:]`` and one of ``[1, 2, 3][:2]`` shared a key and the cache served one's
result for the other. These tests try to break that from both sides: different
values never share a key, equal values reached by slicing share the fresh array's key.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keyed import TALLY, assert_kept_apart

import pylearn_lab as pl
from pylearn_lab.hashing import hash_value as H

pa = pytest.importorskip("pyarrow")


def _structs(child):
    return pa.StructArray.from_arrays([child], names=["x"])


def _lists(values):
    return pa.ListArray.from_arrays(pa.array([0, 1, 2], pa.int32()), values)


@pytest.mark.parametrize("build", [_structs, _lists], ids=["struct", "list"])
def test_children_sliced_differently_never_share_a_key(build, tmp_path):
    base = pa.array([1, 2, 3])
    a, b = build(base.slice(1, 2)), build(base.slice(0, 2))
    assert a.to_pylist() != b.to_pylist()
    assert H(a) != H(b)
    assert H(a) == H(pa.array(a.to_pylist(), type=a.type))  # and equal values still hit

    @pl.component
    def rows(arr):
        TALLY.tick()
        return str(arr.to_pylist())

    assert_kept_apart(pl.Cache(tmp_path), rows, lambda arr: str(arr.to_pylist()), a, b)


def test_a_pandas_column_of_sliced_structs_is_kept_apart(tmp_path):
    base = pa.array([1, 2, 3])
    a = pd.Series(pd.arrays.ArrowExtensionArray(_structs(base.slice(1, 2))))
    b = pd.Series(pd.arrays.ArrowExtensionArray(_structs(base.slice(0, 2))))

    @pl.component
    def first(s):
        TALLY.tick()
        return str(s.iloc[0])

    assert_kept_apart(pl.Cache(tmp_path), first, lambda s: str(s.iloc[0]), a, b)


def test_string_slices_and_rebased_offsets_key_like_fresh_arrays():
    s = pa.array(["a", "bb", None, "ccc", "d"])
    assert H(s.slice(1, 3)) == H(pa.array(["bb", None, "ccc"]))
    assert H(s.slice(3)) == H(pa.array(["ccc", "d"]))
    large = pa.array(["x", "yy", "z"], pa.large_string())
    assert H(large.slice(1)) == H(pa.array(["yy", "z"], pa.large_string()))
    assert H(large.slice(1)) != H(pa.array(["yy", "z"]))  # string and large_string are other types
    # offsets that do not start at 0 although the array offset is 0
    data = pa.py_buffer(b"XXabc")
    offsets = pa.py_buffer(np.array([2, 3, 5], dtype=np.int32).tobytes())
    odd = pa.Array.from_buffers(pa.string(), 2, [None, offsets, data])
    assert odd.to_pylist() == ["a", "bc"] and H(odd) == H(pa.array(["a", "bc"]))
    assert H(odd) != H(pa.array(["ab", "c"]))  # same bytes, other boundaries


def test_a_validity_buffer_without_nulls_does_not_count():
    v = pa.array([1, 2, 3])
    bits = pa.py_buffer(np.packbits([1, 1, 1, 0, 0, 0, 0, 0], bitorder="little").tobytes())
    with_bitmap = pa.Array.from_buffers(pa.int64(), 3, [bits, v.buffers()[1]])
    assert with_bitmap.null_count == 0 and H(with_bitmap) == H(v)


def test_bool_date_decimal_and_dictionary_slices():
    bools = pa.array([True, False, True, True, False, True, False, True, True, False])
    for start in range(4):
        piece = bools.slice(start, 5)
        assert H(piece) == H(pa.array(piece.to_pylist()))
    assert H(bools.slice(0, 5)) != H(bools.slice(1, 5))
    dec = pa.array([1, 2, 3], pa.decimal128(5, 2))
    assert H(dec.slice(1)) == H(pa.array([2, 3], pa.decimal128(5, 2)))
    ts = pa.array([1, 2], pa.timestamp("us", "UTC"))
    assert len({H(ts), H(pa.array([1, 2], pa.timestamp("us"))), H(pa.array([1, 2]))}) == 3
    dct = pa.array(["a", "b", "a", "c"]).dictionary_encode()
    assert H(dct.slice(2)) != H(dct.slice(1, 2))
    assert H(pa.nulls(3)) == H(pa.array([None] * 3)) != H(pa.nulls(4))


def test_a_pandas_frame_sliced_keys_like_its_copy():
    df = pd.DataFrame({"s": pd.array(["p", "qq", None, "rrr", "s"], dtype="str"),
                       "i": pd.array([1, 2, None, 4, 5], dtype="Int64"),
                       "a": pd.array([1.5, None, 2.5, 3.5, 4.5], dtype="float64[pyarrow]")})
    for start in range(4):
        part = df.iloc[start:]
        assert H(part) == H(part.copy(deep=True))
        assert H(part.reset_index(drop=True)) != H(df.iloc[start + 1:].reset_index(drop=True))


_cells = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
_texts = st.one_of(st.none(), st.text(max_size=6))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["int64", "string", "large_string", "struct", "list"]), st.data())
def test_any_slice_keys_like_a_fresh_array_and_any_edit_changes_the_key(kind, data):
    values = data.draw(st.lists(_texts if "string" in kind else _cells, min_size=1, max_size=20))
    typ = {"int64": pa.int64(), "string": pa.string(), "large_string": pa.large_string(),
           "struct": pa.struct([("x", pa.string())]), "list": pa.list_(pa.int64())}[kind]
    if kind == "struct":
        values = [None if v is None else {"x": str(v)} for v in values]
    if kind == "list":
        values = [None if v is None else [v, 0] for v in values]
    arr = pa.array(values, type=typ)
    start = data.draw(st.integers(0, len(values) - 1))
    stop = data.draw(st.integers(start, len(values)))
    piece = arr.slice(start, stop - start)
    fresh = pa.array(values[start:stop], type=typ)
    assert H(piece) == H(fresh)
    if stop > start:
        i = data.draw(st.integers(0, stop - start - 1))
        edited = list(values[start:stop])
        old = edited[i]
        edited[i] = {"int64": 7, "string": "!", "large_string": "!", "struct": {"x": "!"},
                     "list": [7]}[kind] if old is None else None
        assert H(piece) != H(pa.array(edited, type=typ))


def test_object_string_columns_keep_str_subclasses_bytes_and_none_apart():
    class Tagged(str):
        pass

    plain = pd.Series(["a", "b", None], dtype=object)
    others = [pd.Series([Tagged("a"), "b", None], dtype=object),
              pd.Series([np.str_("a"), "b", None], dtype=object),
              pd.Series([b"a", "b", None], dtype=object),
              pd.Series(["a", "b", float("nan")], dtype=object),
              pd.Series(["a", "b", pd.NA], dtype=object),
              pd.Series(["a", "b", "None"], dtype=object),
              pd.Series(["a", "b", ""], dtype=object)]
    assert len({H(plain), *map(H, others)}) == 1 + len(others)
    assert H(plain) == H(plain.copy()) == H(pd.Series(["a", "b", None], dtype=object))
    assert H(pd.Series(["\ud800"], dtype=object)) != H(pd.Series(["\ud801"], dtype=object))


def test_struct_field_names_that_look_like_a_type_list_are_kept_apart():
    one = pa.StructArray.from_arrays([pa.array([1])], names=["a: int64, b"])
    two = pa.StructArray.from_arrays([pa.array([1]), pa.array([2])], names=["a", "b"])
    assert str(one.type) == str(two.type)  # Arrow prints both as struct<a: int64, b: int64>
    assert H((one, pa.array([2]))) != H((two, pa.array([2])))
    assert H([one, pa.array([2])]) != H([two])
