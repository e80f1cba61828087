"""The per-row shortcuts of session 4 (P12): each one tries to break what it must keep.

* the JSON encoders built once (``cache/jsonenc.py``) write ``json.dumps``' bytes
  exactly -- every stored row's MAC depends on them;
* an inline entry's header no longer repeats its signed row: such entries are still
  authenticated (row MAC over their size, payload MAC), forged or altered ones are
  still refused unread, and blob files still carry the row an index is rebuilt from;
* scalars are pickled by the standard pickler: the same bytes cloudpickle writes,
  and anything else (a subclass of int) still goes through cloudpickle with its class;
* an engine frames its outputs without a checksum: the same header and payload as
  :func:`~pylearn_lab.cache.serialize.encode`.
"""

from __future__ import annotations

import json
import math
import pickle
import sqlite3

import blake3
import cloudpickle
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pylearn_lab as pl
from pylearn_lab.cache.auth import _ROW, Signer
from pylearn_lab.cache.codec import to_frames
from pylearn_lab.cache.disk import INLINE_MAX
from pylearn_lab.cache.jsonenc import encoder
from pylearn_lab.cache.serialize import (decode_payload, encode, encode_frames, read_header,
                                         unpack)
from pylearn_lab.errors import IntegrityError

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_the_encoders_write_json_dumps_bytes(obj) -> None:
    assert encoder()(obj) == json.dumps(obj)
    assert encoder((",", ":"), sort_keys=True)(obj) == json.dumps(obj, separators=(",", ":"),
                                                                  sort_keys=True)
    assert encoder((",", ":"), default=str)(obj) == json.dumps(obj, separators=(",", ":"),
                                                               default=str)


def test_default_and_circular_values_behave_as_json_dumps() -> None:
    enc = encoder((",", ":"), default=str)
    odd = {"a": {1, 2} and frozenset([3]), "b": np.float64(2.5).item(), "c": b"x".decode()}
    assert enc(odd) == json.dumps(odd, separators=(",", ":"), default=str)
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        encoder()(loop)
    with pytest.raises(TypeError):
        encoder()({"x": object()})  # no default: the standard error


def test_a_row_mac_is_the_one_json_dumps_gave(tmp_path) -> None:
    """Rows signed before the encoder change still verify: same bytes, same MAC."""
    secret = bytes(range(32))
    fields = ["cache-id", "k" * 32, "pickle", 120, "c" * 64, None, 2**62, "m.f", "é\u2028",
              '{"a":1}', 1.5, float("nan"), 0, "engine 0"]
    old = blake3.blake3(_ROW + json.dumps(fields).encode(), key=secret).hexdigest()
    assert Signer(secret).row_mac(fields) == old
    assert Signer(secret).row_ok(old, fields)


def _entries(root) -> list[tuple]:
    with sqlite3.connect(root / "index.sqlite") as db:
        return db.execute("SELECT key, inline, blob, size FROM entries").fetchall()


def test_an_inline_header_holds_no_row_and_a_blob_header_still_does(tmp_path) -> None:
    cache = pl.Cache(tmp_path / "c")
    small, big = "a" * 32, "b" * 32
    cache.save(small, {"x": 1}, {"func": "m.f", "params": {"p": 2}})
    cache.save(big, np.zeros(INLINE_MAX // 8 + 16), {"func": "m.g"})
    rows = {k: (inline, blob, size) for k, inline, blob, size in _entries(tmp_path / "c")}
    inline, blob, size = rows[small]
    head, _ = read_header(memoryview(inline))
    assert blob is None and len(inline) == size
    assert "row" not in head and "rowmac" not in head and "checksum" not in head
    assert head["kind"] == "pickle" and head["frames"]
    _, blob_name, _ = rows[big]
    data = (tmp_path / "c" / "blobs" / blob_name).read_bytes()
    head, _ = read_header(memoryview(data))
    assert head["blob"] == blob_name and len(head["row"]) > 5 and len(head["rowmac"]) == 64
    cache.close()
    again = pl.Cache(tmp_path / "c")
    assert again.load(small) == {"x": 1}
    assert again.load(big).shape == (INLINE_MAX // 8 + 16,)


@pytest.mark.parametrize("how", ["payload byte", "header byte", "size", "swapped"])
def test_an_altered_inline_entry_is_refused_unread(tmp_path, how) -> None:
    cache = pl.Cache(tmp_path / "c")
    cache.save("a" * 32, [1, 2, 3], {"func": "m.f"})
    cache.save("b" * 32, [4, 5, 6], {"func": "m.f"})
    cache.close()
    with sqlite3.connect(tmp_path / "c" / "index.sqlite") as db:
        (inline,) = db.execute("SELECT inline FROM entries WHERE key = ?", ("a" * 32,)).fetchone()
        data = bytearray(inline)
        if how == "payload byte":
            data[-1] ^= 0x01
        elif how == "header byte":  # a codec field: the payload MAC covers it
            data = bytearray(bytes(data).replace(b'"kind":"pickle"', b'"kind":"ndarra"', 1))
        if how == "size":
            db.execute("UPDATE entries SET size = size + 1 WHERE key = ?", ("a" * 32,))
        elif how == "swapped":  # another entry's (valid) bytes under this key
            (other,) = db.execute("SELECT inline FROM entries WHERE key = ?",
                                  ("b" * 32,)).fetchone()
            db.execute("UPDATE entries SET inline = ? WHERE key = ?", (other, "a" * 32))
        else:
            db.execute("UPDATE entries SET inline = ? WHERE key = ?", (bytes(data), "a" * 32))
    again = pl.Cache(tmp_path / "c")
    with pytest.warns(Warning):
        hit, value = again.lookup("a" * 32)
    assert not hit and value is None
    assert again.load("b" * 32) == [4, 5, 6]


def test_adopted_rows_are_inline_and_read_back_like_saved_ones(tmp_path) -> None:
    """What an engine sends (head, record, payload) becomes a signed inline row."""
    cache = pl.Cache(tmp_path / "c")
    head, parts = encode_frames({"v": 7})
    got = cache.store.adopt([{"key": "c" * 32, "head": head, "record": {"func": "m.h"},
                              "payload": b"".join(parts)}])
    assert got == {"c" * 32}
    assert cache.load("c" * 32) == {"v": 7}
    (rec,) = cache.records()
    assert rec.func == "m.h"


_atoms = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text()
          | st.binary() | st.complex_numbers(allow_nan=True))


@settings(max_examples=300, deadline=None)
@given(_atoms)
def test_scalars_are_pickled_as_cloudpickle_pickles_them(value) -> None:
    head, frames = to_frames(value)
    assert head == {"kind": "pickle"} and len(frames) == 1
    assert bytes(frames[0]) == cloudpickle.dumps(value, protocol=5)
    back = pickle.loads(frames[0])
    assert type(back) is type(value)
    assert back == value or (isinstance(value, float) and math.isnan(value)) or \
        (isinstance(value, complex) and value != value)


class _Level(int):
    """An int subclass: keyed and stored with its class, never as a plain int."""


def test_a_subclass_of_a_scalar_keeps_its_class() -> None:
    head, frames = to_frames(_Level(3))
    back = pickle.loads(frames[0])
    assert type(back) is _Level and back == 3


@pytest.mark.parametrize("value", [7, "x" * 100, [1, 2], np.arange(5.0), {"a": np.ones(3)}])
def test_engine_frames_are_encode_without_its_checksum(value) -> None:
    head, parts, _ = encode(value)
    head2, parts2 = encode_frames(value)
    assert head == head2 and [bytes(p) for p in parts] == [bytes(p) for p in parts2]
    got = decode_payload(head2, memoryview(b"".join(bytes(p) for p in parts2)))
    if isinstance(value, np.ndarray):
        assert np.array_equal(got, value)
    elif isinstance(value, dict):
        assert np.array_equal(got["a"], value["a"])
    else:
        assert got == value


def test_decode_payload_refuses_a_truncated_payload() -> None:
    head, parts = encode_frames("hello" * 10)
    with pytest.raises(IntegrityError):
        decode_payload(head, memoryview(b"".join(bytes(p) for p in parts)[:10]))


def test_unpack_of_a_laid_out_blob_agrees_with_decode_payload() -> None:
    from pylearn_lab.cache.serialize import layout

    head, parts = encode_frames({"k": [1, 2]})
    blob, _ = layout({**head, "checksum": "0"}, parts)
    assert unpack(memoryview(b"".join(bytes(p) for p in blob)))[0] == decode_payload(
        head, memoryview(b"".join(bytes(p) for p in parts)))


def test_claims_in_one_statement_are_exactly_the_keys_won(tmp_path) -> None:
    """Free keys, our own claims, another live owner's, another's expired one, a key
    asked twice: the batched claim wins exactly what one statement per key won."""
    from pylearn_lab.cache.sqlite_index import SqliteIndex

    ix = SqliteIndex(tmp_path / "index.sqlite")
    free, mine, theirs, stale = "f" * 32, "m" * 32, "t" * 32, "s" * 32
    assert ix.try_claim(mine, "me", 60) and ix.try_claim(theirs, "other", 60)
    assert ix.try_claim(stale, "other", -1)  # already expired
    got = ix.try_claim_many([free, mine, theirs, stale, free], "me", 60)
    assert got == {free, mine, stale}
    assert ix.claim_owner(theirs) == "other" and ix.claim_owner(stale) == "me"
    keys = [f"{i:032x}" for i in range(1200)]  # more than one query's worth of keys
    assert ix.try_claim_many(keys, "me", 60) == set(keys)
    assert ix.try_claim_many(keys, "other", 60) == set()
    ix.close()


# -- end to end through run(): counting calls against a real Cache -------------------------
COUNTED: list[str] = pl.untracked([])  # a counter the code writes to: not part of any key


def _scale() -> float:
    return 2.0


@pl.component
def counted(i: int, w: float = 1.0) -> float:
    COUNTED.append(f"{i}:{w}")
    return i * w * _scale()


def test_hits_misses_stale_keys_and_forged_rows_through_run(tmp_path) -> None:
    """The shortcuts end to end: each node computed once and stored (recipes, inline rows,
    claims); a re-run serves every one; a helper redefined after building stops the
    stale node; a forged row is refused and recomputed once, never served."""
    global _scale
    cache = pl.Cache(tmp_path / "c")
    COUNTED.clear()
    first = pl.run([counted(i, w=0.5) for i in range(20)], cache=cache, progress=False)
    assert first == [i * 0.5 * 2.0 for i in range(20)] and len(COUNTED) == 20
    again = pl.run([counted(i, w=0.5) for i in range(20)], cache=cache, progress=False)
    assert again == first and len(COUNTED) == 20  # served, not one call
    (rec,) = [r for r in cache.records() if r.params == {"i": 3, "w": 0.5}]
    assert rec.func.endswith("counted") and rec.inputs == {} and rec.summary == {"value": 3.0}

    built = counted(100)
    old = _scale
    _scale = lambda: 3.0  # noqa: E731 -- the helper redefined after the Expr was built
    try:
        with pytest.raises(pl.errors.StaleKeyError):
            pl.run(built, cache=cache, progress=False)
        assert len(COUNTED) == 20 and not cache.contains(built)
        assert pl.run(counted(100), cache=cache, progress=False) == 300.0
        assert len(COUNTED) == 21
    finally:
        _scale = old

    target = counted(7, w=0.5)
    with sqlite3.connect(tmp_path / "c" / "index.sqlite") as db:  # forge its summary column
        db.execute("UPDATE entries SET summary = ? WHERE key = ?", ('{"value":99}', target.key))
    cache.close()
    cache = pl.Cache(tmp_path / "c")
    with pytest.warns(Warning):
        assert pl.run(target, cache=cache, progress=False) == 7.0
    assert len(COUNTED) == 22  # refused unread, recomputed once
    assert pl.run(target, cache=cache, progress=False) == 7.0 and len(COUNTED) == 22
