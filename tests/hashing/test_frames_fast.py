"""The fast frame path (issue 11, P10): segments on every core, one pass per frame, same trust.

Large buffers are hashed in 1 MiB segments by the caller and helper threads
(``hashing/spread.py``); a frame's buffers are gathered into one background
pass (``digest.gathered``). These tests pin the stream independently of the
library, prove the thread count never reaches a key, try to break the
helpers (concurrent callers, a failure mid-frame, a forked child), and check
with hypothesis that the fast path agrees with a slow per-value reference on
which frames are equal.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import struct
import threading

import blake3
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pylearn_lab.errors import UnhashableError
from pylearn_lab.hashing import digest, hash_value, new_digest
from pylearn_lab.hashing.digest import BIG_BUFFER, feed_buffer, gathered
from pylearn_lab.hashing.spread import SEGMENT, SegmentStream, segment_count, segment_digests

MiB = 2**20


def _independent(*buffers: bytes) -> bytes:
    """Segment digests computed without pylearn_lab: 1 MiB pieces, never across buffers."""
    out = b""
    for b in buffers:
        out += b"".join(blake3.blake3(b[i:i + MiB]).digest() for i in range(0, max(len(b), 1), MiB))
    return out


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    r = np.random.default_rng(seed)
    words = np.array(["alpha", "beta", "gamma", "delta"])
    return pd.DataFrame({
        "i": r.integers(0, 1_000, n),
        "f": r.random(n),
        "s": pd.array(words[r.integers(0, 4, n)].astype(object) + r.integers(0, 9, n).astype(str),
                      dtype="str"),
        "c": pd.Categorical(words[r.integers(0, 3, n)]),
        "t": pd.date_range("2020-01-01", periods=n, freq="s"),
    })


# --------------------------------------------------------------------------- the segment digests


@pytest.mark.parametrize("sizes", [[0], [1], [SEGMENT], [SEGMENT + 1], [3 * SEGMENT + 17],
                                   [SEGMENT - 1, 2 * SEGMENT, 5, BIG_BUFFER, 4 * SEGMENT]])
def test_segment_digests_match_an_independent_computation_on_any_thread_count(sizes) -> None:
    rng = np.random.default_rng(len(sizes))
    bufs = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in sizes]
    expected = _independent(*bufs)
    assert len(expected) == 32 * sum(segment_count(len(b)) for b in bufs)
    for threads in (1, 2, None):
        assert segment_digests(bufs, threads=threads) == expected
    views = [np.frombuffer(b, np.uint8) for b in bufs]  # arrays, not bytes: no copy, same digests
    assert segment_digests(views) == expected


def test_segments_never_cross_buffers_and_order_counts() -> None:
    a, b = bytes(range(256)) * 6000, bytes(range(255, -1, -1)) * 5000  # 1.5 MiB, 1.2 MiB
    assert segment_digests([a, b]) != segment_digests([a + b])
    assert segment_digests([a, b]) != segment_digests([b, a])
    assert segment_digests([a[:-1], a[-1:] + b]) != segment_digests([a, b])


def test_a_stream_fed_piece_by_piece_equals_one_call() -> None:
    bufs = [np.full(n, i, np.uint8) for i, n in enumerate([3 * SEGMENT, 10, 2 * SEGMENT + 3])]
    s = SegmentStream()
    for b in bufs:
        s.add(b)
    assert s.result() == segment_digests(bufs, threads=1) == _independent(*map(bytes, bufs))


# --------------------------------------------------------------------------- the key stream, pinned


def test_a_large_buffer_outside_a_frame_is_fed_as_its_segment_digests() -> None:
    raw = np.random.default_rng(5).integers(0, 256, 3 * MiB + 9, dtype=np.uint8)
    a = new_digest()
    feed_buffer(a, raw)
    expected = blake3.blake3(b"H" + _independent(raw.tobytes())).hexdigest(16)
    assert a.hexdigest() == expected


def test_a_gathered_scope_feeds_markers_then_all_digests_at_its_end() -> None:
    big1 = np.arange(3 * MiB // 8, dtype=np.int64).view(np.uint8)
    big2 = np.ones(BIG_BUFFER, np.uint8)
    small = b"tiny"
    a = new_digest()
    with gathered(a):
        feed_buffer(a, big1)
        feed_buffer(a, small)  # small buffers stay inline, in place
        with gathered(a):  # a nested scope joins the outer one: one trailer
            feed_buffer(a, big2)
    stream = b"T" + small + b"T" + b"B" + _independent(big1.tobytes(), big2.tobytes())
    assert a.hexdigest() == blake3.blake3(stream).hexdigest(16)


def test_a_frame_key_never_depends_on_the_thread_count(monkeypatch) -> None:
    df = _frame(300_000)
    parallel = hash_value(df)
    monkeypatch.setattr(digest, "_THREADS", 1)  # what a forked child or a serial run uses
    assert hash_value(df) == parallel
    assert hash_value(df["s"]) != parallel


def test_a_frame_is_one_pass_and_keys_like_its_columns_fed_one_by_one() -> None:
    import pyarrow as pa

    df = _frame(200_000)
    assert hash_value(df) == hash_value(df.copy(deep=True))
    t = pa.Table.from_pandas(df, preserve_index=False)
    # the same content through Arrow chunks of another size: chunking does not count
    t2 = pa.Table.from_batches(t.to_batches(max_chunksize=70_000))
    assert hash_value(t) == hash_value(t2)
    assert hash_value(t) != hash_value(df)


# --------------------------------------------------------------------------- breaking the helpers


def test_many_threads_hashing_at_once_each_get_their_own_key() -> None:
    frames = [_frame(150_000, seed) for seed in range(4)]
    arrays = [np.random.default_rng(s).random(400_000) for s in range(4)]
    serial = [hash_value(x) for x in frames + arrays]
    assert len(set(serial)) == len(serial)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            objs = frames + arrays
            results[k] = [hash_value(objs[(k + j) % len(objs)]) for j in range(3 * len(objs))]
        except BaseException as e:  # noqa: BLE001 -- reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and not any(t.is_alive() for t in threads)
    objs_n = len(serial)
    for k, got in results.items():
        assert got == [serial[(k + j) % objs_n] for j in range(3 * objs_n)]


def test_a_failure_in_the_middle_of_a_frame_leaves_the_helpers_usable() -> None:
    df = _frame(200_000)
    bad = df.assign(o=pd.Series([threading.Lock()] * len(df), dtype=object))
    key = hash_value(df)
    with pytest.raises(UnhashableError):
        hash_value(bad)  # fails after the numeric columns were handed to the helpers
    d = new_digest()
    with pytest.raises(ZeroDivisionError):
        with gathered(d):
            feed_buffer(d, np.zeros(3 * MiB, np.uint8))
            _ = 1 / 0
    assert d.pending is None
    assert hash_value(df) == key  # the helpers took no stale work along


def test_a_forked_child_hashes_a_frame_like_its_parent() -> None:
    df = _frame(200_000)
    expected = hash_value(df)  # the parent's helper threads now exist
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(q, df))
    proc.start()
    proc.join(60)
    alive = proc.is_alive()
    if alive:
        proc.kill()
        proc.join()
    assert not alive, "a forked child hung hashing a frame"
    assert q.get(timeout=5) == [expected, expected]


def _child(q, df) -> None:
    first = hash_value(df)
    digest._threads = lambda: None  # made to use helpers: a child starts its own, never the parent's
    q.put([first, hash_value(df)])


# --------------------------------------------------------------------------- fast path vs a slow reference


def _float_bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _reference(df: pd.DataFrame) -> tuple:
    """What a frame's key must depend on, computed the slow way: to_numpy and per value."""
    cols = []
    for j, label in enumerate(df.columns):
        col = df.iloc[:, j]
        dt = col.dtype
        if isinstance(dt, pd.CategoricalDtype):
            vals = (tuple(col.cat.categories.tolist()), bool(dt.ordered),
                    col.cat.codes.to_numpy().tobytes())
        elif isinstance(dt, pd.DatetimeTZDtype) or str(dt).startswith("datetime64"):
            vals = (str(getattr(dt, "tz", None)), col.array.asi8.tobytes())
        elif dt == object or isinstance(dt, pd.StringDtype):
            vals = tuple(None if (v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)))
                         else v for v in col.tolist())
        elif dt.kind == "f":
            vals = tuple(_float_bits(v) for v in col.to_numpy().tolist())
        else:
            vals = col.to_numpy().tobytes()
        cols.append((type(label).__name__, label, str(dt), vals))
    idx = df.index
    return (tuple(cols), type(idx).__name__, tuple(idx.tolist()), tuple(idx.names))


_EDITS = ["none", "copy", "slice", "chunked", "int", "float", "negzero", "str", "str_na", "cat",
          "cat_unused", "cat_order", "time", "rename", "label_type", "swap", "dtype", "index"]


def _rebuild(df: pd.DataFrame, how: str, pos: int) -> pd.DataFrame:
    n = len(df)
    out = df.copy(deep=True)
    if how == "slice":  # the same rows as a view into a larger frame (Arrow offsets not rebased)
        big = pd.concat([df.iloc[: pos + 1], df, df.iloc[:3]], ignore_index=True)
        out = big.iloc[pos + 1: pos + 1 + n].reset_index(drop=True)
    elif how == "chunked":  # Arrow string column in two chunks, numeric columns re-allocated
        out = pd.concat([df.iloc[:pos], df.iloc[pos:]], ignore_index=True)
    elif how == "int":
        out.iloc[pos, 0] += 1
    elif how == "float":
        out.iloc[pos, 1] = np.nextafter(out.iloc[pos, 1], 2.0)
    elif how == "negzero":
        out["f"] = out["f"].where(out.index != pos, -0.0)
        df.loc[pos, "f"] = 0.0  # the pair differs by the sign of a zero only
    elif how == "str":
        out.iloc[pos, 2] = str(out.iloc[pos, 2]) + "x"
    elif how == "str_na":
        out.iloc[pos, 2] = None
    elif how == "cat":
        cats = out["c"].cat.categories
        out.iloc[pos, 3] = cats[(cats.get_loc(out.iloc[pos, 3]) + 1) % len(cats)]
    elif how == "cat_unused":
        out["c"] = out["c"].cat.add_categories(["unused"])
    elif how == "cat_order":
        out["c"] = out["c"].cat.reorder_categories(out["c"].cat.categories[::-1])
    elif how == "time":
        out.iloc[pos, 4] = out.iloc[pos, 4] + pd.Timedelta(1, "us")
    elif how == "rename":
        out = out.rename(columns={"i": "j"})
    elif how == "label_type":
        out.columns = ["i", "f", "s", "c", 4]
        df.columns = ["i", "f", "s", "c", "4"]
    elif how == "swap":
        out = out[["f", "i", "s", "c", "t"]]
    elif how == "dtype":
        out["i"] = out["i"].astype(np.int32)
    elif how == "index":
        out.index = pd.RangeIndex(1, n + 1)
    return out


@settings(max_examples=36, deadline=None)
@given(st.sampled_from([7, 9_000, 140_000]), st.integers(0, 2**31), st.sampled_from(_EDITS),
       st.floats(0, 1))
def test_fast_keys_and_the_slow_reference_agree_on_which_frames_are_equal(n, seed, how, where):
    """Equal frames (however laid out in memory) share a key; any content difference splits it."""
    df = _frame(n, seed)
    pos = min(int(where * n), n - 1)
    other = _rebuild(df, how, pos)
    same_ref = _reference(df) == _reference(other)
    assert same_ref == (how in ("none", "copy", "slice", "chunked")), how
    assert (hash_value(df) == hash_value(other)) == same_ref, how


def test_a_stream_lets_go_of_each_buffer_once_it_is_hashed() -> None:
    import weakref

    s = SegmentStream(threads=1)
    temp = np.ones(3 * MiB, np.uint8)  # e.g. a masked column's NA-filled copy
    ref = weakref.ref(temp)
    s.add(temp)
    del temp
    assert ref() is not None  # held until hashed
    digests = s.result()
    assert ref() is None and digests == _independent(bytes(np.ones(3 * MiB, np.uint8)))


def test_a_stream_fed_faster_than_its_helpers_hash_still_covers_every_segment() -> None:
    # buffers added while the helpers already hash earlier ones: no segment lost or repeated
    rng = np.random.default_rng(9)
    for _ in range(20):
        bufs = [rng.integers(0, 256, int(n), dtype=np.uint8) for n in rng.integers(1, 3 * MiB, 6)]
        s = SegmentStream()
        for b in bufs:
            s.add(b)
        assert s.result() == _independent(*map(bytes, bufs))
