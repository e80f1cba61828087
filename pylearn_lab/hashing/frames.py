"""Dataframes and columnar data keyed by content, vectorised (no per-row Python).

pandas (2 and 3: found by ``isinstance``, never by module path), polars,
pyarrow, scipy.sparse and xarray are each optional: a handler is consulted
only when its library is already imported, and none is a dependency.

What counts:

* pandas ``DataFrame``: column labels (with their types: ``1`` is not
  ``"1"``) in order, every column's dtype and values, the index, ``attrs``.
  ``Series``: name, dtype, values, index, ``attrs``. ``Index`` by class, name(s),
  dtype and values; ``RangeIndex`` by start/stop/step; ``MultiIndex`` by levels,
  codes and names. Arrays by their physical parts: numpy buffers, masked
  arrays' data and mask, ``Categorical`` by categories, order flag and codes,
  tz-aware datetimes by zone and int64 values, ``Period`` by frequency and
  ordinals, ``Interval`` by both ends and closedness, strings through Arrow
  buffers (offsets and UTF-8 bytes). Scalars ``NA``, ``NaT``, ``Timestamp``,
  ``Timedelta``, ``Period``, ``Interval`` and date offsets by value.
* pyarrow ``Array``/``ChunkedArray``/``Table``/``RecordBatch``: schema (names,
  types, metadata) and buffers; chunking does not count.
* polars ``DataFrame``/``Series``: through their Arrow form, plus the class.
* scipy.sparse (matrix and array classes, every format): format, shape,
  dtype and the canonical (duplicates summed, indices sorted) components.
* xarray ``DataArray``/``Dataset``: name, dims, coordinates, attrs, values.

Known limit: pyarrow values hidden under a null slot count (Arrow leaves them
unspecified), so two equal arrays built differently may miss each other --
never hit wrongly.

Examples
--------
>>> import pandas as pd
>>> from pylearn_lab.hashing import hash_value
>>> a = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
>>> hash_value(a) == hash_value(a.copy())
True
>>> hash_value(a) == hash_value(a.rename(columns={"x": 1}))
False
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..errors import UnhashableError
from .digest import feed_buffer, gathered
from .values import _PACK_Q, _feed_ndarray, _tag, feed_value, register_probe

__all__ = ["feed_arrow", "feed_pandas", "feed_polars", "feed_sparse", "feed_xarray"]


def _type_tag(d: Any, obj: Any, tag: bytes) -> None:
    typ = type(obj)
    _tag(d, tag, f"{typ.__module__}.{typ.__qualname__}")


# --------------------------------------------------------------------------- pandas


def feed_pandas(d: Any, obj: Any, path: str) -> None:
    """Feed any pandas object (frame, series, index, array, scalar, offset)."""
    with gathered(d):  # every column's buffers in one parallel pass (see digest.py)
        _feed_pandas(d, obj, path)


def _feed_pandas(d: Any, obj: Any, path: str) -> None:
    import pandas as pd

    _type_tag(d, obj, b"P")
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        # allows_duplicate_labels=False makes operations that would duplicate a label raise
        _tag(d, b"F", "dup" if obj.flags.allows_duplicate_labels else "nodup")
    if isinstance(obj, pd.DataFrame):
        _feed_index(d, obj.columns, f"{path}.columns")
        feed_value(d, dict(obj.attrs), f"{path}.attrs")
        _feed_index(d, obj.index, f"{path}.index")
        for i, (label, values) in enumerate(_columns(obj)):  # in column order
            _tag(d, b"c", _dtype_text(values.dtype))
            _feed_pd_array(d, values, f"{path}[{label!r}]" if label is not _NO_LABEL
                           else f"{path}.iloc[:, {i}]")
    elif isinstance(obj, pd.Series):
        feed_value(d, obj.name, f"{path}.name")
        feed_value(d, dict(obj.attrs), f"{path}.attrs")
        _feed_index(d, obj.index, f"{path}.index")
        _tag(d, b"c", _dtype_text(obj.dtype))
        _feed_pd_array(d, obj.array, path)
    elif isinstance(obj, pd.Index):
        _feed_index(d, obj, path)
    elif isinstance(obj, pd.api.extensions.ExtensionArray):
        _feed_pd_array(d, obj, path)
    else:
        _feed_pd_scalar(d, obj, path)


_NO_LABEL = object()


def _columns(df: Any) -> Any:
    """``(label, values)`` per column, in order, without building a Series per column.

    The values are what ``df[label].array`` wraps: the column's numpy array
    or extension array, no copy. Labels are looked up only for object
    columns (whose elements can fail, and the error names the column); other
    columns are named by position in an error, which costs nothing here.
    """
    mgr = getattr(df, "_mgr", None)
    iget = getattr(mgr, "iget_values", None)
    if iget is None:  # another pandas internals layout: the public, slower way
        for label, col in df.items():
            yield label, col.array
        return
    labels = None
    for i in range(df.shape[1]):
        values = iget(i)
        if values.dtype == object:
            if labels is None:
                labels = df.columns
            yield labels[i], values
        else:
            yield _NO_LABEL, values


def _dtype_text(dt: Any) -> str:
    # numpy's dtype.str is a C attribute (its str() runs Python code); extension dtypes by
    # their name, which is what tells "str" (NaN for missing) from "string" (pd.NA) apart
    return dt.str if isinstance(dt, np.dtype) else str(dt)


def _feed_index(d: Any, idx: Any, path: str) -> None:
    import pandas as pd

    _type_tag(d, idx, b"X")
    feed_value(d, list(idx.names), f"{path}.names")
    if isinstance(idx, pd.RangeIndex):
        d.update(_PACK_Q(idx.start) + _PACK_Q(idx.stop) + _PACK_Q(idx.step))
    elif isinstance(idx, pd.MultiIndex):
        d.update(_PACK_Q(idx.nlevels))
        for i, level in enumerate(idx.levels):
            _feed_index(d, level, f"{path}.levels[{i}]")
            _feed_ndarray(d, np.asarray(idx.codes[i]), f"{path}.codes[{i}]")
    else:
        _tag(d, b"c", _dtype_text(idx.dtype))
        if isinstance(idx, (pd.DatetimeIndex, pd.TimedeltaIndex)):
            # equal stamps with and without a frequency behave differently (shift, to_period,
            # resample): the frequency counts (a PeriodIndex has it in its dtype already)
            _tag(d, b"f", idx.freqstr or "")
        _feed_pd_array(d, idx.array, path)


def _feed_pd_array(d: Any, arr: Any, path: str) -> None:
    """A column's values by their physical parts (see the module docstring)."""
    import pandas as pd

    d.update(_PACK_Q(len(arr)))
    if isinstance(arr, np.ndarray):
        _feed_np_or_objects(d, arr, path)
        return
    if isinstance(arr, _numpy_array_class(pd)):  # a plain numpy column
        _feed_np_or_objects(d, np.asarray(arr), path)
        return
    _type_tag(d, arr, b"e")
    if isinstance(arr, pd.Categorical):
        _tag(d, b"o", str(bool(arr.ordered)))
        _feed_index(d, arr.categories, f"{path}.categories")
        _feed_ndarray(d, np.asarray(arr.codes), f"{path}.codes")
    elif isinstance(arr, pd.arrays.DatetimeArray):
        _tag(d, b"z", f"{arr.dtype}|{_tz_key(getattr(arr, 'tz', None))}")
        _feed_ndarray(d, arr.asi8, path)
    elif isinstance(arr, (pd.arrays.TimedeltaArray, pd.arrays.PeriodArray)):
        _tag(d, b"z", str(arr.dtype))
        _feed_ndarray(d, arr.asi8, path)
    elif isinstance(arr, pd.arrays.IntervalArray):
        _tag(d, b"z", f"{arr.dtype}|{arr.closed}")
        _feed_pd_array(d, arr.left.array, f"{path}.left")
        _feed_pd_array(d, arr.right.array, f"{path}.right")
    elif hasattr(arr, "_pa_array"):  # Arrow-backed (pandas 3's default str, ArrowDtype)
        feed_arrow(d, arr._pa_array, path)
    elif hasattr(arr, "_data") and hasattr(arr, "_mask"):  # nullable Int64/Float64/boolean
        mask = np.asarray(arr._mask)
        data = np.where(mask, np.zeros((), dtype=arr._data.dtype), arr._data)  # NA slots: no garbage
        _feed_ndarray(d, mask, f"{path}.mask")
        _feed_ndarray(d, data, path)
    elif isinstance(arr, pd.arrays.SparseArray):
        feed_value(d, arr.fill_value, f"{path}.fill_value")
        _feed_ndarray(d, np.asarray(arr.sp_index.indices), f"{path}.sp_index")
        _feed_pd_array(d, arr.sp_values, f"{path}.sp_values")
    else:  # python-storage strings and other extension arrays: through Arrow, else by element
        _feed_np_or_objects(d, np.asarray(arr, dtype=object), path)


def _numpy_array_class(pd: Any) -> type:
    # pandas >= 2.1 calls it NumpyExtensionArray, 2.0 PandasArray
    return getattr(pd.arrays, "NumpyExtensionArray", None) or pd.arrays.PandasArray


def _feed_np_or_objects(d: Any, arr: np.ndarray, path: str) -> None:
    if arr.dtype != object:
        _feed_ndarray(d, arr, path)
        return
    strings = None
    # Exactly str (and None): Arrow would take str subclasses and bytes as plain text, and a
    # subclass is another value. One C-level pass over the types, then one bulk UTF-8 encode.
    if arr.ndim == 1 and set(map(type, arr)) <= _STR_OR_NONE:
        try:
            import pyarrow as pa

            strings = pa.array(arr, type=pa.large_string(), from_pandas=False)  # None -> null
        except Exception:  # noqa: BLE001 -- no pyarrow, lone surrogates: element by element
            strings = None
    if strings is not None:
        d.update(b"S")
        feed_arrow(d, strings, path)
        return
    d.update(b"E")
    for i, item in enumerate(arr):
        feed_value(d, item, f"{path}[{i}]")


_STR_OR_NONE = frozenset({str, type(None)})


def _tz_key(tz: Any) -> str:
    if tz is None:
        return ""
    return str(getattr(tz, "key", None) or getattr(tz, "zone", None) or tz)


def _feed_pd_scalar(d: Any, obj: Any, path: str) -> None:
    import pandas as pd

    if obj is pd.NA or obj is pd.NaT:
        return  # the type tag says it all
    if isinstance(obj, pd.Timestamp):
        _tag(d, b"t", f"{obj.value}|{obj.unit}|{_tz_key(obj.tz)}")
    elif isinstance(obj, pd.Timedelta):
        _tag(d, b"t", f"{obj.value}|{obj.unit}")
    elif isinstance(obj, pd.Period):
        _tag(d, b"t", f"{obj.ordinal}|{obj.freqstr}")
    elif isinstance(obj, pd.Interval):
        _tag(d, b"t", obj.closed)
        feed_value(d, obj.left, f"{path}.left")
        feed_value(d, obj.right, f"{path}.right")
    elif isinstance(obj, pd.offsets.BaseOffset):
        _tag(d, b"t", repr(obj))  # n, normalize and every keyword
    else:
        raise UnhashableError(path, obj, "no canonical form for this pandas object")


register_probe("pandas", ("DataFrame", "Series", "Index", "api.extensions.ExtensionArray",
                          "Timestamp", "Timedelta", "Period", "Interval", "offsets.BaseOffset",
                          "_libs.missing.NAType", "_libs.tslibs.nattype.NaTType"), feed_pandas)


# --------------------------------------------------------------------------- pyarrow


def feed_arrow(d: Any, obj: Any, path: str) -> None:
    """Feed a pyarrow Array, ChunkedArray, Table, RecordBatch, Schema or Scalar."""
    with gathered(d):  # inside a pandas or polars frame: joins the frame's pass
        _feed_arrow(d, obj, path)


def _feed_arrow(d: Any, obj: Any, path: str) -> None:
    import pyarrow as pa

    if isinstance(obj, (pa.Table, pa.RecordBatch)):
        _type_tag(d, obj, b"V")
        _feed_schema(d, obj.schema)
        d.update(_PACK_Q(obj.num_rows))
        for i, col in enumerate(obj.columns):
            _feed_arrow(d, col, f"{path}[{obj.schema.names[i]!r}]")
        return
    if isinstance(obj, pa.Schema):
        _feed_schema(d, obj)
        return
    if isinstance(obj, pa.Scalar):
        _feed_arrow(d, pa.array([obj.as_py()], type=obj.type), path)
        return
    if isinstance(obj, pa.ChunkedArray):
        obj = obj.combine_chunks() if obj.num_chunks != 1 else obj.chunk(0)
    if not isinstance(obj, pa.Array):
        raise UnhashableError(path, obj, "no canonical form for this pyarrow object")
    _feed_arrow_array(d, obj, path)


def _feed_arrow_array(d: Any, arr: Any, path: str) -> None:
    """One Arrow array by the values it addresses, never by the buffers it happens to share.

    A slice keeps its parent's whole buffers plus an offset, and so may each
    child of a struct or list array: hashing ``buffers()`` as they are would
    give ``struct{x: [1, 2, 3][1:]}`` and ``struct{x: [1, 2, 3][:2]}`` one key.
    So: fixed-width values by the bytes of their own slots, strings and binary
    by rebased offsets and the bytes they span, booleans and validity as bits
    repacked from the slice's start (validity absent when there are no nulls),
    dictionaries by indices and dictionary, structs field by field, lists and
    maps by rebased offsets and the child values they span; every other type
    (unions, run-end encoded, views, extension types) by its Arrow IPC
    stream, which decodes back to the same values and so cannot merge two
    different arrays (it copies: those types are rare in keys).
    """
    import pyarrow as pa

    typ = arr.type
    n = len(arr)
    nulls = arr.null_count
    _tag(d, b"v", str(typ))
    d.update(_PACK_Q(n) + _PACK_Q(nulls))
    if nulls:
        valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        feed_buffer(d, np.packbits(valid, bitorder="little"))
    if n == 0 or nulls == n or pa.types.is_null(typ):
        return  # the type, length and validity say it all (values under nulls never count)
    if pa.types.is_dictionary(typ):
        _feed_arrow_array(d, arr.indices, f"{path}.indices")
        _feed_arrow_array(d, arr.dictionary, f"{path}.dictionary")
        return
    width = _byte_width(pa, typ)
    if width:
        raw = np.frombuffer(arr.buffers()[1], np.uint8, count=n * width, offset=arr.offset * width)
        d.update(b"w")
        feed_buffer(d, raw)
    elif pa.types.is_string(typ) or pa.types.is_binary(typ) or pa.types.is_large_string(typ) \
            or pa.types.is_large_binary(typ):
        bufs = arr.buffers()
        odt = np.dtype(np.int64 if pa.types.is_large_string(typ) or pa.types.is_large_binary(typ)
                       else np.int32)
        offsets = np.frombuffer(bufs[1], odt, count=n + 1, offset=arr.offset * odt.itemsize)
        first, last = int(offsets[0]), int(offsets[-1])
        if first:
            offsets = offsets - offsets.dtype.type(first)  # a slice: rebase (one pass, rare)
        d.update(b"o")
        feed_buffer(d, offsets.view(np.uint8))
        d.update(_PACK_Q(last - first))
        if last > first:
            feed_buffer(d, np.frombuffer(bufs[2], np.uint8, count=last - first, offset=first))
    elif pa.types.is_boolean(typ):  # bit-packed: repack from the slice's first bit, zero tail
        import pyarrow.compute as pc

        bits = np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)
        d.update(b"p")
        feed_buffer(d, np.packbits(bits, bitorder="little"))
    elif pa.types.is_struct(typ):
        # the field names again, length-prefixed: str(typ) does not quote them
        d.update(b"F" + _PACK_Q(typ.num_fields))
        for i in range(typ.num_fields):  # field(i) applies the struct's own offset
            _tag(d, b"n", typ.field(i).name)
            _feed_arrow_array(d, arr.field(i), f"{path}.{typ.field(i).name}")
    elif pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_map(typ):
        offsets = np.asarray(arr.offsets)  # sliced with the array, not rebased
        first, last = int(offsets[0]), int(offsets[-1])
        d.update(b"o")
        feed_buffer(d, (offsets - offsets.dtype.type(first)).view(np.uint8))
        _feed_arrow_array(d, arr.values.slice(first, last - first), f"{path}.values")
    elif pa.types.is_fixed_size_list(typ):
        size = typ.list_size
        _feed_arrow_array(d, arr.values.slice(arr.offset * size, n * size), f"{path}.values")
    else:
        _feed_arrow_ipc(d, pa, arr)


def _byte_width(pa: Any, typ: Any) -> int:
    """Bytes per value of a flat fixed-width type (ints, floats, temporal, decimal), else 0."""
    if typ.num_fields or isinstance(typ, pa.BaseExtensionType):
        return 0
    try:
        bits = typ.bit_width
    except ValueError:  # variable width
        return 0
    return bits // 8 if bits % 8 == 0 else 0  # bool: 1 bit, repacked by the caller


def _feed_arrow_ipc(d: Any, pa: Any, arr: Any) -> None:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, pa.schema([pa.field("v", arr.type)])) as writer:
        writer.write_batch(pa.record_batch([arr], names=["v"]))
    buf = sink.getvalue()
    d.update(b"I" + _PACK_Q(buf.size))
    feed_buffer(d, memoryview(buf))


def _feed_schema(d: Any, schema: Any) -> None:
    _tag(d, b"h", str([(f.name, str(f.type), f.nullable) for f in schema]))
    meta = schema.metadata or {}
    feed_value(d, {bytes(k): bytes(v) for k, v in meta.items()}, "schema metadata")


register_probe("pyarrow", ("Array", "ChunkedArray", "Table", "RecordBatch", "Schema", "Scalar"),
               feed_arrow)


# --------------------------------------------------------------------------- polars


def feed_polars(d: Any, obj: Any, path: str) -> None:
    """Feed a polars DataFrame or Series through its Arrow form."""
    import polars as pl

    _type_tag(d, obj, b"L")
    if isinstance(obj, pl.Series):
        feed_value(d, obj.name, f"{path}.name")
        _tag(d, b"c", str(obj.dtype))
    elif isinstance(obj, pl.DataFrame):
        _tag(d, b"c", str(list(zip(obj.columns, map(str, obj.dtypes)))))
    else:  # LazyFrame: its plan, not data, would count -- refuse rather than guess
        raise UnhashableError(path, obj, "a LazyFrame is a query, not data; pass .collect()")
    feed_arrow(d, obj.to_arrow(), path)


register_probe("polars", ("DataFrame", "Series", "LazyFrame"), feed_polars)


# --------------------------------------------------------------------------- scipy.sparse


def feed_sparse(d: Any, obj: Any, path: str) -> None:
    """Feed a scipy.sparse matrix or array: format, shape, dtype, canonical components."""
    with gathered(d):
        _feed_sparse(d, obj, path)


def _feed_sparse(d: Any, obj: Any, path: str) -> None:
    _type_tag(d, obj, b"Q")
    _tag(d, b"c", f"{obj.format}|{obj.shape}|{obj.dtype.str}")
    fmt = obj.format
    if fmt in ("lil", "dok"):
        obj, fmt = obj.tocsr(), "csr"
    if fmt in ("csr", "csc", "bsr", "coo"):
        obj = obj.copy()
        obj.sum_duplicates()  # canonical: sorted indices, no duplicates
    if fmt == "coo":
        parts = [obj.row, obj.col, obj.data] if hasattr(obj, "row") else [*obj.coords, obj.data]
    elif fmt == "dia":
        parts = [obj.offsets, obj.data]
    else:
        parts = [obj.indptr, obj.indices, obj.data]
        if fmt == "bsr":
            _tag(d, b"b", str(obj.blocksize))
    for i, part in enumerate(parts):
        _feed_ndarray(d, np.asarray(part), f"{path} component {i}")


register_probe("scipy.sparse", ("sparray", "spmatrix", "_base._spbase"), feed_sparse)


# --------------------------------------------------------------------------- xarray


def feed_xarray(d: Any, obj: Any, path: str) -> None:
    """Feed an xarray DataArray, Dataset or Variable: names, dims, coords, attrs, values."""
    import xarray as xr

    _type_tag(d, obj, b"x")
    if isinstance(obj, xr.Dataset):
        feed_value(d, {str(k): v for k, v in obj.data_vars.items()}, f"{path}.data_vars")
        feed_value(d, {str(k): v.variable for k, v in obj.coords.items()}, f"{path}.coords")
        feed_value(d, dict(obj.attrs), f"{path}.attrs")
    elif isinstance(obj, xr.DataArray):
        feed_value(d, obj.name, f"{path}.name")
        feed_value(d, {str(k): v.variable for k, v in obj.coords.items()}, f"{path}.coords")
        feed_xarray(d, obj.variable, path)
    else:  # Variable
        feed_value(d, tuple(obj.dims), f"{path}.dims")
        feed_value(d, dict(obj.attrs), f"{path}.attrs")
        feed_value(d, np.asarray(obj.values), f"{path}.values")


register_probe("xarray", ("DataArray", "Dataset", "Variable"), feed_xarray)


def loaded() -> list[str]:
    """Which optional libraries are imported now (and so keyed by content)."""
    return [m for m in ("pandas", "pyarrow", "polars", "scipy.sparse", "xarray") if m in sys.modules]
