"""Keys come from BLAKE3 over type-tagged content (issue 11: crafted collisions)."""

from __future__ import annotations

import struct

import blake3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pylearn_lab.hashing import digest_bytes, hash_value, new_digest
from pylearn_lab.hashing.digest import DIGEST_HEX_LEN, DIGEST_NAME


def _q(n: int) -> bytes:
    return struct.pack("<q", n)


def test_digest_is_blake3_truncated_to_128_bits() -> None:
    data = bytes(range(256)) * 4097  # > 1 MiB: the multi-threaded path
    assert digest_bytes(data) == blake3.blake3(data).hexdigest(16)
    d = new_digest()
    d.update(data[:1000])
    d.update(data[1000:])
    assert d.hexdigest() == blake3.blake3(data).hexdigest(16)
    assert len(d.hexdigest()) == DIGEST_HEX_LEN == 32
    assert DIGEST_NAME == "blake3-128"


def test_array_key_is_blake3_over_tagged_dtype_shape_and_buffer() -> None:
    # Recomputed independently of pylearn_lab: tag, dtype, ndim, shape, raw bytes.
    a = np.random.default_rng(1).random((64, 33))
    dt = a.dtype.str.encode()
    expected = blake3.blake3(
        b"A" + _q(len(dt)) + dt + _q(2) + _q(64) + _q(33) + a.tobytes()).hexdigest(16)
    assert hash_value(a) == expected


def test_same_bytes_other_type_or_shape_never_share_a_key() -> None:
    raw = np.arange(16, dtype=np.float64)
    views = [raw, raw.view(np.int64), raw.view(np.uint8), raw.reshape(4, 4), raw.reshape(2, 8),
             raw.tobytes(), bytearray(raw.tobytes())]
    keys = {hash_value(v) for v in views}
    assert len(keys) == len(views)


def test_xxh3_style_lane_swap_pair_differs() -> None:
    # xxh3's long-input accumulator adds each 8-byte lane both to its own accumulator
    # (multiplied with the secret) and unmixed to the neighbouring one; the published
    # collisions exploit that structure. Pairs built in that spirit (swapped lanes,
    # lanes with compensating differences) must never collide under the key hash.
    rng = np.random.default_rng(7)
    a = rng.integers(0, 2**63, size=4096, dtype=np.uint64)
    pairs = []
    b = a.copy(); b[[0, 1]] = b[[1, 0]]; pairs.append(b)
    c = a.copy(); c[0] += np.uint64(1); c[2] -= np.uint64(1); pairs.append(c)
    d = a.copy(); d[::8], d[1::8] = a[1::8], a[::8]; pairs.append(d)
    base = hash_value(a.view(np.float64))
    for other in pairs:
        assert hash_value(other.view(np.float64)) != base


def test_a_forked_child_hashes_large_buffers_without_hanging():
    import multiprocessing as mp

    big = np.zeros(32 * 2**20, dtype=np.uint8)
    expected = digest_bytes(big)  # the parent's thread pool is now in use
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_child_hash, args=(q,))
    proc.start()
    proc.join(60)
    alive = proc.is_alive()
    if alive:
        proc.kill()
        proc.join()
    assert not alive, "a forked child hung in a multi-threaded blake3 update"
    assert q.get(timeout=5) == expected


def _child_hash(q) -> None:
    q.put(digest_bytes(np.zeros(32 * 2**20, dtype=np.uint8)))


# --------------------------------------------------------------------------- crafted collisions
# Keys are BLAKE3 over the canonical stream: a collision of the key is a collision of BLAKE3
# (or of its 128-bit truncation, 2**64 work), whatever structure the inputs are crafted with.
# These tests pin the stream down independently and flip single bits everywhere.


@pytest.mark.parametrize("size", ["just over the split size", "3 MiB: on every core"])
def test_a_large_array_enters_the_stream_as_its_own_blake3_digest(size) -> None:
    from pylearn_lab.hashing.digest import BIG_BUFFER

    n = BIG_BUFFER // 8 + 3 if size.startswith("just") else 3 * 2**20 // 8 + 5
    a = np.random.default_rng(2).random(n)
    dt = a.dtype.str.encode()
    raw = a.tobytes()
    # the full 256 bits of each 1 MiB segment, each from a fresh hasher, in order
    inner = b"".join(blake3.blake3(raw[i:i + 2**20]).digest() for i in range(0, len(raw), 2**20))
    assert len(inner) == 32 * (1 if size.startswith("just") else 4)
    expected = blake3.blake3(b"A" + _q(len(dt)) + dt + _q(1) + _q(a.size) + b"H" + inner)
    assert hash_value(a) == expected.hexdigest(16)


def test_the_docs_name_the_algorithm_and_the_key_length() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "keys.md").read_text()
    assert DIGEST_NAME.startswith("blake3-") and int(DIGEST_NAME.split("-")[1]) == 4 * DIGEST_HEX_LEN
    assert "first 128 bits of **BLAKE3**" in text and "32 hex characters" in text
    assert len(hash_value(np.zeros(3))) == DIGEST_HEX_LEN


_DTYPES = ["u1", "i2", "<f4", ">f4", "<f8", "<c16", "?", "<M8[ns]", "<m8[s]", "S3", "<U2"]


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(_DTYPES), st.integers(1, 300), st.data())
def test_one_flipped_bit_anywhere_changes_the_key(dtype, n, data) -> None:
    a = np.frombuffer(data.draw(st.binary(min_size=n * np.dtype(dtype).itemsize,
                                          max_size=n * np.dtype(dtype).itemsize)), dtype=dtype).copy()
    if dtype == "?":
        a = (a.view(np.uint8) & 1).astype(bool)  # a bool holds 0 or 1: flip bit 0 of an element
    raw = a.view(np.uint8)
    where = data.draw(st.sampled_from(["first", "middle", "last", "any"]))
    pos = {"first": 0, "middle": raw.size // 2, "last": raw.size - 1}.get(where)
    if pos is None:
        pos = data.draw(st.integers(0, raw.size - 1))
    bit = 0 if dtype == "?" else data.draw(st.integers(0, 7))
    b = a.copy()
    b.view(np.uint8)[pos] ^= np.uint8(1 << bit)
    assert hash_value(a) != hash_value(b)


@pytest.mark.parametrize("pos", ["first", "middle", "last"])
def test_one_flipped_bit_in_a_large_buffer_changes_the_key(pos) -> None:
    a = np.random.default_rng(3).integers(0, 255, 3 * 2**20 + 16, dtype=np.uint8)  # 3 MiB: split path
    b = a.copy()
    b[{"first": 0, "middle": a.size // 2, "last": a.size - 1}[pos]] ^= 0x80
    assert hash_value(a) != hash_value(b)
    assert hash_value(a.view("<f8")) != hash_value(b.view("<f8"))
    assert hash_value(a.view("<f8").reshape(-1, 2)[:, ::-1]) != hash_value(b.view("<f8").reshape(-1, 2)[:, ::-1])


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=8, max_size=256).filter(lambda b: len(b) % 8 == 0), st.data())
def test_equal_bytes_under_another_dtype_or_shape_never_share_a_key(raw, data) -> None:
    n = len(raw)
    views = {dt: np.frombuffer(raw, dtype=dt) for dt in ("u1", "i1", "<u2", ">u2", "<i4", "<f4", "<f8",
                                                         "<i8", ">f8", "<c8", "S8", "V8")}
    keys = {hash_value(v) for v in views.values()}
    assert len(keys) == len(views)
    shaped = [np.frombuffer(raw, dtype="u1").reshape(shape) for shape in
              {(n,), (1, n), (n, 1), (n // 8, 8), (8, n // 8), (2, n // 2)}]
    assert len({hash_value(s) for s in shaped}) == len(shaped)
    assert len(keys | {hash_value(raw), hash_value(bytearray(raw))}) == len(views) + 2
